"""The shot status workflow: draft → ready → generating → review → approved → final (+ omitted)."""

from __future__ import annotations

STATUSES = ("draft", "ready", "generating", "review", "approved", "final", "omitted")

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("ready", "omitted"),
    "ready": ("draft", "generating", "review", "omitted"),
    "generating": ("ready", "review", "omitted"),
    "review": ("ready", "generating", "approved", "omitted"),
    "approved": ("review", "final", "omitted"),
    "final": ("approved",),
    "omitted": ("draft",),
}

# Moving into or out of these needs the approve permission (directors, admins).
APPROVAL_STATES = frozenset({"approved", "final"})


def allowed_next(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())


def is_allowed(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, ())


def needs_approval(current: str, target: str) -> bool:
    return current in APPROVAL_STATES or target in APPROVAL_STATES
