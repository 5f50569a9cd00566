"""Codes for new shots of an import, all at once: between their neighbours in the file when there is room,
else after the last shot (the same rule as one new shot, without re-reading every code per row)."""

from __future__ import annotations

from ..shots.codes import SHOT_STEP
from ..storage.layout import CodeError, ProjectLayout


def assign(layout: ProjectLayout, taken_codes: list[str], sequence: list[str | None]) -> list[str | None]:
    """`sequence` is the file's codes in row order, None where a new shot needs one; returns it filled in.

    One pass each way: the neighbours and the highest number are carried along, not searched per row."""
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
    following: list[int | None] = [None] * len(numbers)  # the next readable number after each row
    upcoming: int | None = None
    for index in range(len(numbers) - 1, -1, -1):
        following[index] = upcoming
        if numbers[index] is not None and numbers[index] >= 0:  # type: ignore[operator]
            upcoming = numbers[index]
    result = list(sequence)
    highest = max(taken, default=0)
    low: int | None = None  # the last readable number above this row (new codes included)
    for index, code in enumerate(sequence):
        if code is not None:
            number = numbers[index]
            if number is not None and number >= 0:
                low = number
            continue
        high = following[index]
        number = None
        if low is not None:
            top = high if high is not None else low + 2 * SHOT_STEP
            middle = (low + top) // 2
            if low < middle < top and middle not in taken:
                number = middle
        if number is None:
            number = (highest // SHOT_STEP + 1) * SHOT_STEP
        taken.add(number)
        highest = max(highest, number)
        low = number
        result[index] = layout.shot_code(number)
    return result
