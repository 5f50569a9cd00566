"""Character names as scripts write them: cue extensions, joint cues, emphasis and display case.

Shared by the Fountain and Korean parsers, the deterministic engine and the LLM merge, so that
`MAYA (V.O.)`, `Maya (CONT'D)` and `**MAYA**` are one character wherever they come from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# Extensions that only say how a line is delivered: stripped from the name, kept for the reader.
# Upper-cased, with dots and spaces as written (`V.O.`, `V.O`, `VO` are all listed).
CONTINUED = frozenset({"CONT'D", "CONT’D", "CONT.", "CONT", "CONTD", "CONTINUING", "CONTINUED", "계속"})
# The speaker is heard, not seen: not an on-screen subject of the shot (their LoRA stays out of it).
OFF_SCREEN = frozenset(
    {
        "V.O.", "V.O", "VO", "V/O", "VOICE OVER", "VOICE-OVER",
        "O.S.", "O.S", "OS", "O/S", "OFF SCREEN", "OFF-SCREEN", "OFFSCREEN", "OFF",
        "O.C.", "O.C", "OC", "OFF CAMERA", "OFF-CAMERA",
        "PRELAP", "PRE-LAP", "PRE LAP",
        "ON PHONE", "ON THE PHONE", "ON RADIO", "ON THE RADIO", "ON TV", "ON SPEAKER", "ON SPEAKERPHONE",
        "ON INTERCOM", "FILTERED", "OVER PHONE", "OVER RADIO",
        "E", "EFF", "EFFECT", "F", "NA", "N", "NARRATION",
        "소리", "목소리", "전화", "전화 목소리", "내레이션", "나레이션",
    }
)  # fmt: skip
# Said by someone in the shot: stripped, on screen.
ON_SCREEN = frozenset(
    {
        "INTO PHONE", "INTO THE PHONE", "INTO RADIO", "INTO THE RADIO", "INTO MIC", "INTO MICROPHONE",
        "INTO INTERCOM", "SUBTITLED", "IN ENGLISH", "IN KOREAN", "WHISPERING", "SINGING",
    }
)  # fmt: skip
EXTENSIONS = CONTINUED | OFF_SCREEN | ON_SCREEN
# Cues for everyone present (`BOTH`, `모두`): no character of their own; the action says who is there.
GROUP_CUES = frozenset(
    {
        "BOTH",
        "ALL",
        "EVERYONE",
        "EVERYBODY",
        "TOGETHER",
        "ALL TOGETHER",
        "모두",
        "다같이",
        "다 같이",
        "일동",
        "둘 다",
        "함께",
    }
)
_GROUP = re.compile(r"[(\[]([^()\[\]]*)[)\]]")
_JOINERS = re.compile(r"\s+(?:AND|&)\s+|\s*&\s*|\s+and\s+", re.IGNORECASE)
_KOREAN_JOINER = re.compile(r"(?<=[가-힣])(?:와|과|랑|이랑|하고)\s+(?=\S)|\s*[&·]\s*")
# Asterisks pair anywhere (`**마야**와`); underscores only around words (`file_name` is not emphasis).
_EMPHASIS = re.compile(
    r"(?<!\\)(\*{1,3})(?=\S)(.+?)(?<=\S)(?<!\\)\1|(?<![\\A-Za-z0-9])(_)(?=\S)(.+?)(?<=\S)(?<!\\)_(?![A-Za-z0-9])"
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_CONTRACTIONS = frozenset({"s", "t", "d", "m", "ll", "re", "ve"})


def strip_emphasis(text: str) -> str:
    """`**bold**`, `*italic*`, `***both***`, `_underline_` -> the words; `\\*` and `\\_` -> `*`, `_`."""
    previous = None
    while previous != text:  # nested markers (`_**TITLE**_`) come off one layer at a time
        previous, text = text, _EMPHASIS.sub(lambda m: m.group(2) or m.group(4), text)
    return text.replace("\\*", "*").replace("\\_", "_")


def extension_key(text: str) -> str:
    """An extension as looked up in the tables: upper case, single spaces, curly quotes straight."""
    return " ".join(text.replace("’", "'").upper().split())


def is_extension(text: str) -> bool:
    return extension_key(text) in EXTENSIONS


def off_screen(extension: str) -> bool:
    """True when any of the (comma-separated) extensions says the speaker is heard, not seen."""
    return any(extension_key(part) in OFF_SCREEN for part in extension.split(","))


def split_cue(cue: str, everything: bool = True) -> tuple[str, list[str], list[str]]:
    """`MAYA (ON PHONE) (CONT'D)` -> ("MAYA", ["ON PHONE"], []): the name, the extensions worth keeping
    (`CONT'D` is dropped) and any other parenthesised words (a parenthetical; with `everything` false
    they stay in the name, as an LLM's `Kim (the father)` should)."""
    kept: list[str] = []
    other: list[str] = []

    def take(match: re.Match[str]) -> str:
        inside = " ".join(match.group(1).split())
        key = extension_key(inside)
        if key in CONTINUED:
            return " "
        if key in EXTENSIONS:
            kept.append(inside)
            return " "
        if everything:
            if inside:
                other.append(inside)
            return " "
        return match.group(0)

    name = _GROUP.sub(take, strip_emphasis(cue))
    return " ".join(name.split()), kept, other


def joint_names(name: str, known: Callable[[str], bool], key: Callable[[str], str] = str.strip) -> list[str]:
    """`THEO AND DAD`, `THEO & MAYA`, `태오와 아빠` -> the names when `known(key(part))` holds for every
    one; else `[name]` (`MR. & MRS. HALE` stays one speaker)."""
    for joiner in (_JOINERS, _KOREAN_JOINER):
        parts = [p.strip() for p in joiner.split(name) if p and p.strip()]
        if len(parts) > 1 and all(known(key(p).casefold()) for p in parts):
            return parts
    return [name]


def display_name(name: str) -> str:
    """`RINA` -> `Rina`, `DR. KIM` -> `Dr. Kim`, `WILL'S ROOM` -> `Will's Room`, `O'BRIEN` -> `O'Brien`;
    mixed case and Korean are kept as written."""
    name = " ".join(strip_emphasis(name).split())
    if name != name.upper() or not any(ch.isupper() for ch in name):
        return name
    return _WORD.sub(lambda m: _capitalise(m.group(0)), name)


def _capitalise(word: str) -> str:
    """One word with its apostrophes: `WILL'S` -> `Will's`, `O’BRIEN` -> `O’Brien`, `I'M` -> `I'm`."""
    parts = re.split(r"(['’])", word.lower())
    out = parts[0].capitalize()
    for mark, part in zip(parts[1::2], parts[2::2], strict=True):
        # After a one-letter prefix (O', D', L') a name goes on in capitals; a contraction does not.
        upper = len(parts[0]) == 1 and part not in _CONTRACTIONS
        out += mark + (part.capitalize() if upper else part)
    return out


def unique(names: Iterable[str]) -> list[str]:
    """Names in order, each once (case-insensitive)."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out
