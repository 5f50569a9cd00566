"""Dragging the overlay (bpy-free): which handle a press picks, and what dragging it to a point holds.

Handles, in image pixels (origin top-left, y down):
- the horizon's left and right ends (where it meets the image edges) and its middle (moves it up or down);
- both ends of each line the artist holds (`held:<index>:a|b`);
- both ends of each line the solve used (`solved:<index>:a|b`): dragging one holds a copy of that line, with
  the dragged end moved, so the re-solve turns the camera so the line's axis vanishes on it.
Dragging the horizon holds it (the re-solve keeps pitch and roll on it). `DragSession` is the whole
press / move / release / cancel cycle the modal operator forwards its events to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Point = tuple[float, float]
HandleKind = Literal["horizon", "held", "solved"]
PICK_RADIUS_PX = 12.0
_ENDS = {"horizon": ("left", "right", "middle"), "held": ("a", "b"), "solved": ("a", "b")}


@dataclass(frozen=True)
class Line:
    """A line along a scene axis: its two ends in image pixels."""

    axis: str
    a: Point
    b: Point


@dataclass(frozen=True)
class Handle:
    kind: HandleKind
    index: int
    end: str
    x: float
    y: float

    @property
    def name(self) -> str:
        return f"horizon:{self.end}" if self.kind == "horizon" else f"{self.kind}:{self.index}:{self.end}"


def parse_name(name: str) -> tuple[HandleKind, int, str]:
    """`horizon:left`, `held:2:a`, `solved:0:b` → (kind, index, end); ValueError names what is wrong."""
    parts = name.split(":")
    kind = parts[0]
    if kind == "horizon" and len(parts) == 2 and parts[1] in _ENDS["horizon"]:
        return "horizon", 0, parts[1]
    if kind in ("held", "solved") and len(parts) == 3 and parts[1].isdigit() and parts[2] in ("a", "b"):
        return kind, int(parts[1]), parts[2]  # type: ignore[return-value]
    raise ValueError(f"handle {name!r}: expected horizon:left|right|middle, held:<n>:a|b or solved:<n>:a|b")


def horizon_edges(a: Sequence[float], b: Sequence[float], width: float) -> tuple[float, float] | None:
    """Where the line through image pixels `a` and `b` meets the left and right edges (None when the two
    points are not apart across the picture)."""
    if abs(b[0] - a[0]) < 1.0:
        return None
    slope = (b[1] - a[1]) / (b[0] - a[0])
    left = a[1] - slope * a[0]
    return left, left + slope * width


def handles(
    horizon: tuple[float, float], width: float, held: Sequence[Line], solved: Sequence[Line]
) -> list[Handle]:
    """Every handle of the overlay; `horizon` is (y at the left edge, y at the right edge)."""
    left, right = horizon
    found = [
        Handle("horizon", 0, "left", 0.0, left),
        Handle("horizon", 0, "right", width, right),
        Handle("horizon", 0, "middle", width / 2.0, (left + right) / 2.0),
    ]
    for kind, lines in (("held", held), ("solved", solved)):
        for index, line in enumerate(lines):
            found.append(Handle(kind, index, "a", *line.a))  # type: ignore[arg-type]
            found.append(Handle(kind, index, "b", *line.b))  # type: ignore[arg-type]
    return found


def pick(
    candidates: Sequence[Handle],
    region_point: Point,
    to_region: Callable[[float, float], Point],
    radius_px: float = PICK_RADIUS_PX,
) -> Handle | None:
    """The handle nearest the press (region pixels) within `radius_px`; the artist's own lines win ties over
    the solve's (they are drawn over them)."""
    order = {"held": 0, "horizon": 1, "solved": 2}
    best: tuple[float, int, Handle] | None = None
    for handle in candidates:
        rx, ry = to_region(handle.x, handle.y)
        distance = math.hypot(rx - region_point[0], ry - region_point[1])
        if distance <= radius_px and (best is None or (distance, order[handle.kind]) < best[:2]):
            best = (distance, order[handle.kind], handle)
    return best[2] if best is not None else None


@dataclass
class Held:
    """What the scene holds for the re-solve: the horizon (None: not held) and the artist's lines."""

    horizon: tuple[float, float] | None
    lines: list[Line] = field(default_factory=list)


def drag_to(
    held: Held,
    handle: Handle,
    start: Point,
    point: Point,
    width: float,
    solved: Sequence[Line],
    shown_horizon: tuple[float, float],
) -> Held:
    """What is held after dragging `handle` (grabbed at image point `start`) to image point `point`.
    A horizon end keeps the other end where it is; the middle moves the horizon by the drag's height."""
    lines = list(held.lines)
    if handle.kind == "horizon":
        left, right = held.horizon if held.horizon is not None else shown_horizon
        if handle.end == "middle":
            dy = point[1] - start[1]
            return Held((left + dy, right + dy), lines)
        fixed = (width, right) if handle.end == "left" else (0.0, left)
        edges = horizon_edges(point, fixed, width)
        return Held(edges if edges is not None else (left, right), lines)
    source = lines if handle.kind == "held" else list(solved)
    if not 0 <= handle.index < len(source):
        raise ValueError(f"handle {handle.name}: there are {len(source)} {handle.kind} lines")
    line = source[handle.index]
    moved = Line(line.axis, point if handle.end == "a" else line.a, point if handle.end == "b" else line.b)
    if handle.kind == "held":
        lines[handle.index] = moved
    else:
        lines.append(moved)
    return Held(held.horizon, lines)


class DragSession:
    """One drag: `press` picks a handle (False: nothing under the mouse), `move` returns what is held now,
    `release` the final hold, `cancel` what was held before the press. A solve line dragged becomes a new
    held line on the first move, and later moves drag that copy."""

    def __init__(
        self, before: Held, width: float, solved: Sequence[Line], shown_horizon: tuple[float, float]
    ):
        self.before = Held(before.horizon, list(before.lines))
        self.width = width
        self.solved = list(solved)
        self.shown_horizon = shown_horizon
        self.handle: Handle | None = None
        self.start: Point = (0.0, 0.0)
        self.current = self.before

    def press(
        self, region_point: Point, image_point: Point, to_region: Callable[[float, float], Point]
    ) -> bool:
        horizon = self.before.horizon if self.before.horizon is not None else self.shown_horizon
        self.handle = pick(
            handles(horizon, self.width, self.before.lines, self.solved), region_point, to_region
        )
        self.start = image_point
        return self.handle is not None

    def move(self, image_point: Point) -> Held:
        if self.handle is None:
            return self.current
        self.current = drag_to(
            self.before, self.handle, self.start, image_point, self.width, self.solved, self.shown_horizon
        )
        return self.current

    def release(self) -> Held:
        return self.current

    def cancel(self) -> Held:
        self.current = self.before
        return self.before
