"""Shot and scene codes from the project's naming templates: SHT_0010, SHT_0020, … and SCN_001, SCN_002, …

Shots are numbered in steps of ten, which leaves room to insert a shot between two others (SHT_0015).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..errors import Unprocessable
from ..storage.layout import CodeError, ProjectLayout

SHOT_STEP = 10


def _numbers(codes: Iterable[str], parse: Callable[[str], int]) -> set[int]:
    found = set()
    for code in codes:
        try:
            found.add(parse(code))
        except CodeError:
            continue  # a code from before the templates changed: it keeps its name, takes no number
    return found


def next_shot_code(
    layout: ProjectLayout, existing: Iterable[str], between: tuple[str, str | None] | None = None
) -> str:
    """The next free shot code: after the last shot, or between two shots when `between` leaves room."""
    taken = _numbers(existing, layout.shot_number)
    if between is not None:
        try:
            low = layout.shot_number(between[0])
            high = layout.shot_number(between[1]) if between[1] else low + 2 * SHOT_STEP
        except CodeError:
            low = high = 0
        middle = (low + high) // 2
        if low < middle < high and middle not in taken:
            return layout.shot_code(middle)
    return layout.shot_code((max(taken, default=0) // SHOT_STEP + 1) * SHOT_STEP)


def next_scene_code(layout: ProjectLayout, existing: Iterable[str]) -> str:
    return layout.scene_code(max(_numbers(existing, layout.scene_number), default=0) + 1)


def check_code(layout: ProjectLayout, kind: str, code: str) -> None:
    """Refuse a code the naming templates cannot read back (its folder would have no shot/scene number)."""
    try:
        layout.shot_number(code) if kind == "shot" else layout.scene_number(code)
    except CodeError as exc:
        raise Unprocessable(str(exc), field="code") from exc
