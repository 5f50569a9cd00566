"""A script's title page (Fountain `Title:`, `Credit:`, `Author:`, `Source:`, `Draft date:`, ...; Korean
`제목:`, `작가:`, `원작:`, ...) as the draft keeps it: known keys by one name, others as written."""

from __future__ import annotations

from .names import strip_emphasis

# Written key (lower case, single spaces) -> the draft's field.
FIELDS: dict[str, str] = {
    "title": "title",
    "credit": "credit",
    "author": "author",
    "authors": "author",
    "written by": "author",
    "source": "source",
    "draft date": "draft_date",
    "date": "draft_date",
    "contact": "contact",
    "copyright": "copyright",
    "notes": "notes",
    "제목": "title",
    "작가": "author",
    "극본": "author",
    "각본": "author",
    "글": "author",
    "작": "author",
    "원작": "source",
    "날짜": "draft_date",
    "일자": "draft_date",
    "작성일": "draft_date",
    "초고": "draft_date",
    "연락처": "contact",
    "메모": "notes",
}
# Keys a Korean title page may have; any other `label: text` before the first scene is story or cast.
KOREAN_KEYS = frozenset(k for k in FIELDS if not k.isascii()) | {"각색", "연출", "기획", "제작", "부제"}


def field_of(key: str) -> str:
    """The draft's name for a written key: `Draft date` -> `draft_date`; unknown keys as written."""
    written = " ".join(key.strip().lower().split())
    return FIELDS.get(written, written)


def add(page: dict[str, str], key: str, value: str) -> None:
    """Add one key's value (lines joined with newlines; a repeated key adds lines)."""
    name = field_of(key)
    text = "\n".join(strip_emphasis(line).strip() for line in value.strip().splitlines() if line.strip())
    page[name] = f"{page[name]}\n{text}".strip() if page.get(name) else text


def one_line(value: str) -> str:
    """A multi-line title as one line: `THE SIGNAL\\nA test` -> `THE SIGNAL A test`."""
    return " ".join(value.split())
