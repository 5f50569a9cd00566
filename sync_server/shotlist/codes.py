"""Codes for new shots of an import, all at once: between their neighbours in the file when there is room,
else after the last shot (the same rule as one new shot, without re-reading every code per row)."""

from __future__ import annotations

from ..shots.codes import SHOT_STEP
from ..storage.layout import CodeError, ProjectLayout


def assign(layout: ProjectLayout, taken_codes: list[str], sequence: list[str | None]) -> list[str | None]:
    """`sequence` is the file's codes in row order, None where a new shot needs one; returns it filled in."""
    taken: set[int] = set()
    for code in taken_codes:
        try:
            taken.add(layout.shot_number(code))
        except CodeError:
            continue
    numbers: list[int | None] = []
    for code in sequence:
        try:
            numbers.append(layout.shot_number(code) if code else None)
        except CodeError:
            numbers.append(None if code is None else -1)
    result = list(sequence)
    for index, code in enumerate(sequence):
        if code is not None:
            continue
        low = next((n for n in reversed(numbers[:index]) if n is not None and n >= 0), None)
        high = next((n for n in numbers[index + 1 :] if n is not None and n >= 0), None)
        number = None
        if low is not None:
            top = high if high is not None else low + 2 * SHOT_STEP
            middle = (low + top) // 2
            if low < middle < top and middle not in taken:
                number = middle
        if number is None:
            number = (max(taken, default=0) // SHOT_STEP + 1) * SHOT_STEP
        taken.add(number)
        numbers[index] = number
        result[index] = layout.shot_code(number)
    return result
