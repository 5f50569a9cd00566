"""The committed contract (docs/openapi.json) is what a running server serves: an API change is a deliberate
diff, made by running scripts/update_openapi.py and committing the file with the change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.api import Api

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
SHOWN = 25


def differences(committed: Any, served: Any, where: str = "") -> Iterator[str]:
    """Where two JSON documents differ, as JSON-pointer-like paths with what each side holds."""
    if isinstance(committed, dict) and isinstance(served, dict):
        for key in sorted(committed.keys() | served.keys()):
            path = f"{where}/{key}"
            if key not in served:
                yield f"{path}: gone from the server"
            elif key not in committed:
                yield f"{path}: new on the server"
            else:
                yield from differences(committed[key], served[key], path)
    elif committed != served:
        yield f"{where or '/'}: committed {json.dumps(committed)[:120]}, served {json.dumps(served)[:120]}"


def test_served_openapi_is_the_committed_document(api: Api) -> None:
    served = api.client(None).get("/openapi.json")
    assert served.status_code == 200, served.text
    committed = json.loads(DOC.read_text(encoding="utf-8"))
    found = list(differences(committed, served.json()))
    more = f"\n… and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    assert not found, (
        f"The server's OpenAPI differs from {DOC.name} in {len(found)} places. "
        "If the API change is deliberate, run `.venv/bin/python scripts/update_openapi.py` "
        "and commit docs/openapi.json with it:\n" + "\n".join(found[:SHOWN]) + more
    )


def test_operation_ids_are_explicit_and_unique() -> None:
    """Clients are generated from operation ids: each is named in its route, not derived from the path."""
    doc = json.loads(DOC.read_text(encoding="utf-8"))
    ids = [op.get("operationId") for ops in doc["paths"].values() for op in ops.values()]
    assert all(ids), "an operation has no operationId"
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    derived = [i for i in ids if i.endswith(("_get", "_post", "_put", "_patch", "_delete"))]
    assert not derived, f"operation ids FastAPI derived from the path (name them in the route): {derived}"
