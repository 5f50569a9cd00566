"""Frame rates as exact rationals: 23.976 is 24000/1001, never a float."""

from __future__ import annotations

from fractions import Fraction

NTSC_BASES = (24, 30, 48, 60, 120)
MAX_FPS = 1000


class FrameRateError(ValueError):
    pass


def parse_fps(value: str | int | float) -> tuple[int, int]:
    """Accept 24, 25.0, "23.976", "29.97", "24000/1001"; return (numerator, denominator)."""
    if isinstance(value, bool):
        raise FrameRateError("fps must be a number or a ratio like '24000/1001'")
    if isinstance(value, str):
        text = value.strip()
        try:
            rate = Fraction(text) if "/" in text else _snap(Fraction(text))
        except (ValueError, ZeroDivisionError) as exc:
            raise FrameRateError(f"fps {value!r} is not a number or a ratio like '24000/1001'") from exc
    else:
        try:
            rate = _snap(Fraction(value).limit_denominator(1001))
        except (ValueError, OverflowError) as exc:  # NaN, infinity
            raise FrameRateError(f"fps {value!r} is not a finite number") from exc
    if rate <= 0 or rate > MAX_FPS:
        raise FrameRateError(f"fps must be between 0 and {MAX_FPS}, got {value!r}")
    return rate.numerator, rate.denominator


def _snap(rate: Fraction) -> Fraction:
    """Decimal spellings of NTSC rates (23.976, 29.97, 59.94, 47.952, 119.88) mean N*1000/1001."""
    if rate.denominator == 1:
        return rate
    for base in NTSC_BASES:
        ntsc = Fraction(base * 1000, 1001)
        if abs(rate - ntsc) < Fraction(1, 100):
            return ntsc
    return rate.limit_denominator(1001)


def fps_text(num: int, den: int) -> str:
    return str(num) if den == 1 else f"{num}/{den}"


def fps_decimal(num: int, den: int) -> float:
    return round(num / den, 3)
