"""Safe path components: readable (Unicode letters kept, NFC) yet valid on Windows, macOS and Linux.

`safe_component(name)` applies, until nothing changes:
  1. NFC normalisation, so a name typed on macOS (NFD) and on Windows (NFC) is the same name;
  2. leading whitespace and trailing dots/whitespace are removed (Windows drops trailing ones silently,
     so two different names would collide on disk);
  3. each of ``< > : " / \\ | ? *``, control characters, lone surrogates and line/paragraph
     separators becomes ``_``;
  4. a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, COM¹²³, LPT¹²³, CONIN$, CONOUT$),
     in any case and with any extension (``nul.txt``), gets a ``_`` prefix;
  5. the name is cut to 255 bytes of UTF-8 (the ext4/APFS limit; never more than NTFS's 255 UTF-16
     units) at a character boundary, never separating a base letter from its combining marks;
  6. an empty result (also what ``.`` and ``..`` become) is replaced by ``_``.
"""

from __future__ import annotations

import unicodedata

MAX_COMPONENT_BYTES = 255
RESERVED_CHARACTERS = frozenset('<>:"/\\|?*')
FALLBACK_NAME = "_"

# Windows refuses these as file names whatever the extension; the superscript digits are reserved too.
_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789\u00b9\u00b2\u00b3"}
)
# Cc: C0/C1 controls (NUL, newline...); Cs: lone surrogates from undecodable bytes (surrogateescape);
# Zl/Zp: line and paragraph separators that break listings and shell scripts.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Every rule is applied again until the name is stable; two rounds always suffice, the bound guards bugs.
_MAX_ROUNDS = 4


def is_unsafe_character(char: str) -> bool:
    """True when `char` may not appear in a path component on some supported OS."""
    return char in RESERVED_CHARACTERS or unicodedata.category(char) in _UNSAFE_CATEGORIES


def is_device_name(name: str) -> bool:
    """True when Windows treats `name` as a device (``CON``, ``nul.txt``, ``Com1 .log``...)."""
    stem = name.split(".", 1)[0].rstrip(" ")
    return stem.upper() in _DEVICE_NAMES


def _strip_ends(name: str) -> str:
    name = name.lstrip()
    end = len(name)
    while end and (name[end - 1] == "." or name[end - 1].isspace()):
        end -= 1
    return name[:end]


def _truncate_utf8(name: str, limit: int) -> str:
    if len(name.encode("utf-8")) <= limit:
        return name
    size = 0
    end = 0
    for char in name:
        size += len(char.encode("utf-8"))
        if size > limit:
            break
        end += 1
    # Cutting between a letter and its combining marks would change the letter, so drop both.
    while end and unicodedata.combining(name[end]):
        end -= 1
    return name[:end]


def _one_round(name: str) -> str:
    # Strip first, so a name pasted with a trailing newline loses it instead of gaining a "_".
    name = _strip_ends(unicodedata.normalize("NFC", name))
    name = "".join("_" if is_unsafe_character(char) else char for char in name)
    if is_device_name(name):
        name = "_" + name
    name = _strip_ends(_truncate_utf8(name, MAX_COMPONENT_BYTES))
    return name or FALLBACK_NAME


def safe_component(name: str) -> str:
    """Return `name` made safe as one path component on Windows, macOS and Linux (see module doc)."""
    if not isinstance(name, str):
        raise TypeError(f"safe_component() expects str, got {type(name).__name__}")
    for _ in range(_MAX_ROUNDS):
        cleaned = _one_round(name)
        if cleaned == name:
            return cleaned
        name = cleaned
    raise RuntimeError(f"safe_component() did not converge for {name!r}")


def is_safe_component(name: str) -> bool:
    """True when `name` is already a safe component, i.e. ``safe_component(name) == name``."""
    return isinstance(name, str) and safe_component(name) == name
