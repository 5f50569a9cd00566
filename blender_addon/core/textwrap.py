"""Line wrapping by display width: Hangul and other East Asian wide characters take two columns, so a
Korean message wraps at half the characters of an English one. Needs no Blender."""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns `text` takes in a fixed-width rendering: wide (W) and fullwidth (F) characters count two,
    combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` columns, broken at spaces; a word wider than a line is cut."""
    lines: list[str] = []
    line, used = "", 0
    for word in text.split():
        for piece in _pieces(word, width):
            size = display_width(piece)
            if line and used + 1 + size > width:
                lines.append(line)
                line, used = piece, size
            elif line:
                line, used = f"{line} {piece}", used + 1 + size
            else:
                line, used = piece, size
    return [*lines, line] if line else lines


def _pieces(word: str, width: int) -> list[str]:
    """A word cut into parts of at most `width` columns (Korean has long runs without spaces)."""
    pieces, piece, used = [], "", 0
    for char in word:
        size = display_width(char)
        if piece and used + size > width:
            pieces.append(piece)
            piece, used = "", 0
        piece, used = piece + char, used + size
    return [*pieces, piece] if piece else pieces
