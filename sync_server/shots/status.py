"""The shot status workflow, in one place: draft → ready → generating → review → approved → final (+ omitted).

Which moves a person may make (`TRANSITIONS`, approval rights), and the moves the server makes itself when
a version is published or reviewed. Nothing else decides a shot's status: the add-on asks the server.
"""

from __future__ import annotations

from collections import deque

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

# The order a shot goes forward in; `omitted` is off to the side.
FORWARD = ("draft", "ready", "generating", "review", "approved", "final")

# Publishing a version of these stages puts a shot that is still being worked on into review: the shot's
# status before -> whether it moves. A first frame (previz) of a draft shot does not: the shot list is not
# ready yet; a playblast always does (the layout artist sends the shot for review).
PUBLISH_TO_REVIEW: dict[str, frozenset[str]] = {
    "previz": frozenset({"ready", "generating"}),
    "playblast": frozenset({"draft", "ready", "generating"}),
}

# An approval of the newest version of these stages takes the shot up to this status.
APPROVAL_TARGET = {"previz": "approved", "final": "final"}
# A rejection (or needs-changes) of the newest version of these stages sends a shot in review back to work.
REVIEWABLE_STAGES = frozenset({"previz", "layout", "playblast", "render", "comp", "final"})


def allowed_next(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())


def is_allowed(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, ())


def needs_approval(current: str, target: str) -> bool:
    return current in APPROVAL_STATES or target in APPROVAL_STATES


def forward_path(current: str, target: str) -> list[str]:
    """The shortest chain of allowed transitions from `current` up to `target`, never stepping back."""
    if current not in FORWARD or FORWARD.index(current) >= FORWARD.index(target):
        return []
    rank = FORWARD.index
    queue: deque[list[str]] = deque([[current]])
    while queue:
        path = queue.popleft()
        for step in allowed_next(path[-1]):
            if step in FORWARD and rank(path[-1]) < rank(step) <= rank(target):
                if step == target:
                    return [*path[1:], step]
                queue.append([*path, step])
    return []


def moves_on_publish(stage: str, status: str) -> list[str]:
    """The statuses a shot in `status` moves through when a version of `stage` is published."""
    if status in PUBLISH_TO_REVIEW.get(stage, frozenset()):
        return forward_path(status, "review")
    return []


def moves_on_verdict(verdict: str, stage: str, is_latest: bool, status: str) -> list[str]:
    """The statuses a shot in `status` moves through when a version of `stage` gets `verdict`."""
    if not is_latest:
        return []
    if verdict == "approve":
        target = APPROVAL_TARGET.get(stage)
        return forward_path(status, target) if target else []
    if stage in REVIEWABLE_STAGES and status == "review":
        return ["generating"]
    return []
