"""From a camera suggestion ("tracking shot, low angle", "클로즈업") to a cinematic preset name.

Explicit camera words win (in English and Korean); otherwise the preset whose shot size, angle and
movement appear most in the suggestion; ties go to the earlier preset. Deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# (pattern, built-in preset name): checked in order, first match wins.
KEYWORDS: list[tuple[str, str]] = [
    (r"extreme close|\becu\b|익스트림\s?클로즈", "Extreme Close-Up"),
    (r"\binsert\b|인서트", "Insert Detail"),
    (r"over[- ]the[- ]shoulder|\bots\b|어깨\s?너머", "Over The Shoulder"),
    (r"\bpov\b|point of view|시점\s?샷|의 시점", "Point Of View"),
    (r"aerial|drone|bird'?s[- ]eye|항공|드론|부감", "Aerial Establishing"),
    (r"worm'?s[- ]eye|앙각", "Worm's Eye"),
    (r"dolly zoom|vertigo", "Dolly Zoom Vertigo"),
    (r"crash zoom", "Crash Zoom"),
    (r"whip pan", "Whip Pan Transition"),
    (r"crane|크레인", "Crane Up Reveal"),
    (r"orbit|circl(e|ing) around|360", "Orbit Around Subject"),
    (r"push(es|ing)? in|dolly in|slow push|줌\s?인", "Slow Push In"),
    (r"pull(s|ing)? (out|back)|dolly out|줌\s?아웃", "Pull Out Reveal"),
    (r"steadicam", "Steadicam Follow"),
    (r"tracking|follow(s|ing)? (her|him|them)|트래킹|따라간다|따라가", "Tracking Walk And Talk"),
    (r"handheld|핸드헬드", "Medium Handheld"),
    (r"silhouette|실루엣", "Silhouette Backlit"),
    (r"dutch|기울어진", "Dutch Angle Unease"),
    (r"low angle|로우\s?앵글", "Low Angle Heroic"),
    (r"high angle|하이\s?앵글", "High Angle Vulnerable"),
    (r"two[- ]shot|투\s?샷", "Two Shot"),
    (r"medium close|\bmcu\b|바스트\s?샷", "Medium Close-Up"),
    (r"close[- ]?up|close on|\bc\.?u\.?\b|클로즈\s?업|클로즈업", "Close-Up"),
    (r"establishing|extreme wide|익스트림\s?롱|설정\s?샷", "Establishing Extreme Wide"),
    (r"full shot|풀\s?샷", "Full Shot"),
    (r"wide|long shot|롱\s?샷|와이드", "Wide Master"),
    (r"medium|미디엄", "Medium Shot"),
]
_COMPILED = [(re.compile(pattern, re.IGNORECASE), name) for pattern, name in KEYWORDS]


@dataclass(frozen=True)
class PresetInfo:
    name: str
    shot_size: str = ""
    angle: str = ""
    movement: str = ""


def choose_preset(suggestion: str, presets: Sequence[PresetInfo]) -> str | None:
    """The preset name for a camera suggestion, or None when nothing in it points anywhere."""
    names = {p.name for p in presets}
    by_lower = {p.name.lower(): p.name for p in presets}
    text = suggestion.strip()
    if not text:
        return None
    if text.lower() in by_lower:
        return by_lower[text.lower()]
    for pattern, name in _COMPILED:
        if pattern.search(text) and name in names:
            return name
    lowered = text.lower()
    best, best_score = None, 0
    for preset in presets:
        score = sum(
            2 if field == preset.shot_size else 1
            for field in (preset.shot_size, preset.angle, preset.movement)
            if field and field != "static" and field.lower() in lowered
        )
        if score > best_score:
            best, best_score = preset.name, score
    return best
