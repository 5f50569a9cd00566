"""/api/storage: how clients reach the production tree."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import Field

from ..auth.permissions import Permission
from ..deps import ServicesDep, require
from ..schemas import Output

router = APIRouter(tags=["storage"])


class StorageOut(Output):
    server_root: str = Field(description="The storage root as the server sees it.")
    mappings: list[dict[str, str]] = Field(
        description="Where workstations mount the storage root, per OS (linux, windows, darwin). A client "
        "opens files in place under the first mount that exists, and downloads over HTTP otherwise."
    )


@router.get(
    "/storage",
    response_model=StorageOut,
    dependencies=[Depends(require(Permission.PROJECT_READ))],
    operation_id="get_storage",
)
def get_storage(services: ServicesDep) -> StorageOut:
    settings = services.settings
    return StorageOut(server_root=str(settings.resolved_storage_root), mappings=settings.path_mappings)
