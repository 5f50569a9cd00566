"""Roles and the permission matrix. `docs/permissions.md` is this table in words; a test keeps them equal."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    PROJECT_READ = "project:read"  # projects, scenes, shots, characters, environments, presets
    PROJECT_ADMIN = "project:admin"  # create, change, archive and delete projects
    SHOT_EDIT = "shot:edit"  # shot text fields, subjects, environment, preset; status up to review
    SHOT_STRUCTURE = "shot:structure"  # create, delete, reorder shots; code and duration; scenes
    SHOT_APPROVE = "shot:approve"  # status to approved / final, and back from them
    ASSET_EDIT = "asset:edit"  # characters, environments, cinematic presets
    RENDER_SUBMIT = "render:submit"  # send shots to the farm
    FARM_MANAGE = "farm:manage"  # wrangler tools: retry, cancel, priority, drain, blocklist
    FARM_AGENT = "farm:agent"  # the render-agent protocol
    EVENTS_READ = "events:read"  # the live event stream
    USER_ADMIN = "user:admin"  # users and API keys
    AUDIT_READ = "audit:read"  # the audit log
    METRICS_READ = "metrics:read"  # Prometheus /metrics


P = Permission

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "director": frozenset(
        {
            P.PROJECT_READ,
            P.PROJECT_ADMIN,
            P.SHOT_EDIT,
            P.SHOT_STRUCTURE,
            P.SHOT_APPROVE,
            P.ASSET_EDIT,
            P.RENDER_SUBMIT,
            P.EVENTS_READ,
        }
    ),
    "editor": frozenset(
        {P.PROJECT_READ, P.SHOT_EDIT, P.SHOT_STRUCTURE, P.ASSET_EDIT, P.RENDER_SUBMIT, P.EVENTS_READ}
    ),
    "artist": frozenset({P.PROJECT_READ, P.SHOT_EDIT, P.RENDER_SUBMIT, P.EVENTS_READ}),
    "wrangler": frozenset({P.PROJECT_READ, P.FARM_MANAGE, P.EVENTS_READ, P.METRICS_READ}),
    "agent": frozenset({P.FARM_AGENT}),
}

ROLES = tuple(ROLE_PERMISSIONS)  # the same roles as aipipe_shared.vocabulary.ROLES (tested)


def role_has(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
