"""The studio's words, defined once: shot statuses, version stages, verdicts, roles, job statuses.

Each is a `Literal` (what pydantic schemas and type checkers use) and the tuple of its values (what
database check constraints, menus and error messages use). The database, the API schemas, the add-on and
the docs all take them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

ShotStatus = Literal["draft", "ready", "generating", "review", "approved", "final", "omitted"]
SHOT_STATUSES: tuple[str, ...] = get_args(ShotStatus)

# `previz` holds the first-frame candidates (takes); `mask` a painted or uploaded mask image (white =
# repaint) and `control` a control image (depth, line or pose) are inputs of the image loop's takes.
# `interp` (frame interpolation) and `upscale` hold a render recipe's intermediate results (docs/api.md,
# "Recipes"): each step of the chain publishes a version of its own stage. `audio`: a shot's temp sound
# (WAV), laid on the conform's temp track (docs/api.md, "Delivery").
VersionStage = Literal[
    "previz",
    "layout",
    "playblast",
    "render",
    "comp",
    "final",
    "plate",
    "reference",
    "mask",
    "control",
    "interp",
    "upscale",
    "audio",
]
VERSION_STAGES: tuple[str, ...] = get_args(VersionStage)

# What a control image shows (a `control` version's metadata `control_kind`).
ControlKind = Literal["depth", "canny", "pose"]
CONTROL_KINDS: tuple[str, ...] = get_args(ControlKind)

# What a take does to make its image (the image loop, docs/api.md "Takes").
TakeOperation = Literal["generate", "refine", "edit", "inpaint", "outpaint"]
TAKE_OPERATIONS: tuple[str, ...] = get_args(TakeOperation)

Verdict = Literal["approve", "reject", "needs_changes"]
VERDICTS: tuple[str, ...] = get_args(Verdict)

Role = Literal["admin", "director", "editor", "artist", "wrangler", "agent"]
ROLES: tuple[str, ...] = get_args(Role)

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
