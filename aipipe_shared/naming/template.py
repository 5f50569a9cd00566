"""One naming template: its syntax, and building a path from fields and parsing fields back from a path.

Syntax (paths always use ``/``; every other character is literal):
  ``{name}`` or ``{name:s}``   text field: one folder/file name at most, never a separator
  ``{name:d}``, ``{name:03d}`` whole number >= 0, zero-padded to at least the given width
  ``<...>``                    optional part: dropped when a field directly inside it is missing or empty
  ``{@other}``                 the text of template ``other`` (expanded by `TemplateSet`)

A template must parse back unambiguously, so that build then parse returns the same fields. It is
refused when two fields touch (``{a}{b}``), a number is followed by a digit, or an optional part can
start with the same character as what follows it. A text field's value may not contain the character
that follows the field in the template (in ``{stage}_v{version:03d}`` the stage cannot contain ``_``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import FieldError, NamingError, TemplateError
from .paths import is_absolute_path
from .sanitize import is_safe_component, is_unsafe_character, safe_component

FieldValue = int | str

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SPEC = re.compile(r"(?:(?P<s>s?)|0(?P<width>[0-9]+)d|(?P<d>d))\Z")
_DIGITS = frozenset("0123456789")
_SEPARATORS = frozenset("/\\")
# Literal text may hold "/" (a folder level); the other reserved characters are never valid in a name.
_LITERAL_FORBIDDEN = frozenset('\\:"|?*')


@dataclass(frozen=True)
class Literal:
    """Fixed text of a template."""

    text: str


@dataclass(frozen=True)
class Field:
    """A typed field: kind ``"d"`` (number, zero-padded to `width`) or ``"s"`` (text)."""

    name: str
    kind: str
    width: int = 0


@dataclass(frozen=True)
class Reference:
    """``{@name}``: the text of another template."""

    name: str


@dataclass(frozen=True)
class OptionalPart:
    """``<...>``: kept only when every field directly inside it has a value."""

    parts: tuple[Node, ...]


Node = Literal | Field | Reference | OptionalPart


def parse_syntax(template: str, text: str) -> tuple[Node, ...]:
    """Split template `text` into nodes; `template` (its name) is used in error messages."""
    if not isinstance(text, str) or not text:
        raise TemplateError(template, "is empty; a template must be a non-empty string")
    stack: list[list[Node]] = [[]]
    literal: list[str] = []

    def flush() -> None:
        if literal:
            stack[-1].append(Literal("".join(literal)))
            literal.clear()

    position = 0
    while position < len(text):
        char = text[position]
        if char == "{":
            end = text.find("}", position)
            if end < 0:
                raise TemplateError(template, f"'{{' at position {position} is never closed")
            flush()
            stack[-1].append(_parse_braces(template, text[position + 1 : end]))
            position = end + 1
            continue
        if char == "}":
            raise TemplateError(template, f"'}}' at position {position} has no matching '{{'")
        if char == "<":
            flush()
            stack.append([])
        elif char == ">":
            if len(stack) == 1:
                raise TemplateError(template, f"'>' at position {position} has no matching '<'")
            flush()
            parts = tuple(stack.pop())
            stack[-1].append(OptionalPart(parts))
        elif char in _LITERAL_FORBIDDEN or (is_unsafe_character(char) and char != "/"):
            raise TemplateError(
                template, f"character {char!r} at position {position} is not allowed in a path"
            )
        else:
            literal.append(char)
        position += 1
    if len(stack) > 1:
        raise TemplateError(template, "an optional part '<' is never closed with '>'")
    flush()
    return tuple(stack[0])


def _parse_braces(template: str, inner: str) -> Field | Reference:
    if inner.startswith("@"):
        if not _NAME.match(inner[1:]):
            raise TemplateError(template, f"'{{{inner}}}' is not a valid template reference")
        return Reference(inner[1:])
    name, _, spec = inner.partition(":")
    if not _NAME.match(name):
        raise TemplateError(template, f"'{{{inner}}}' does not start with a valid field name")
    found = _SPEC.match(spec)
    if found is None:
        raise TemplateError(
            template,
            f"field {name!r} has format {spec!r}; use nothing, 's', 'd' or a padded width like '03d'",
        )
    if found["width"] is not None:
        return Field(name, "d", int(found["width"]))
    return Field(name, "d" if found["d"] else "s")


@dataclass(frozen=True)
class _Starts:
    """Which characters can come next: one of `chars`, or any character at all (`anything`)."""

    chars: frozenset[str] = frozenset()
    anything: bool = False

    def __or__(self, other: _Starts) -> _Starts:
        return _Starts(self.chars | other.chars, self.anything or other.anything)

    def overlaps(self, other: _Starts) -> bool:
        if self.anything:
            return other.anything or bool(other.chars)
        if other.anything:
            return bool(self.chars)
        return bool(self.chars & other.chars)


@dataclass(frozen=True)
class _Slot:
    """A field occurrence after analysis: its regex group and the characters its value may not hold."""

    field: Field
    group: str
    forbidden: frozenset[str]


_Compiled = Literal | _Slot | OptionalPart


def _starts_of(nodes: tuple[Node, ...], follow: _Starts) -> _Starts:
    starts = _Starts()
    for node in nodes:
        if isinstance(node, Literal):
            return starts | _Starts(frozenset(node.text[0]))
        if isinstance(node, Field):
            return starts | (_Starts(_DIGITS) if node.kind == "d" else _Starts(anything=True))
        if isinstance(node, OptionalPart):
            starts = starts | _starts_of(node.parts, _Starts())
    return starts | follow


@dataclass(frozen=True)
class _Rendered:
    text: str
    field: str | None


@dataclass(frozen=True)
class ParseResult:
    """Fields read from a path, and how much of it was fixed text (the more, the more specific)."""

    fields: dict[str, FieldValue]
    literal_chars: int
    text_fields: int


class _Missing(Exception):
    """A field needed by the current (optional) part has no value."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class Template:
    """A template with references expanded: builds relative ``/`` paths and parses them back."""

    def __init__(self, name: str, source: str, nodes: tuple[Node, ...]) -> None:
        self.name = name
        self.source = source
        self._slots: list[_Slot] = []
        self._nodes = self._analyse(_merge_literals(nodes), _Starts())
        self._regex = re.compile(self._pattern(self._nodes))

    @property
    def fields(self) -> dict[str, str]:
        """Field name -> kind (``"d"`` or ``"s"``), in order of first appearance."""
        return {slot.field.name: slot.field.kind for slot in self._slots}

    def _analyse(self, nodes: tuple[Node, ...], follow: _Starts) -> tuple[_Compiled, ...]:
        compiled: list[_Compiled] = []
        for index, node in enumerate(nodes):
            after = _starts_of(nodes[index + 1 :], follow)
            if isinstance(node, Literal):
                compiled.append(node)
            elif isinstance(node, Field):
                compiled.append(self._slot(node, after))
            elif isinstance(node, OptionalPart):
                if not any(isinstance(part, Field) for part in node.parts):
                    raise TemplateError(self.name, "an optional part '<...>' must directly contain a field")
                if _starts_of(node.parts, _Starts()).overlaps(after):
                    raise TemplateError(
                        self.name,
                        "an optional part '<...>' can start like the text after it, so a path could be read"
                        " two ways; begin it with a distinct character",
                    )
                compiled.append(OptionalPart(self._analyse(node.parts, after)))
            else:
                raise TemplateError(self.name, f"reference '{{@{node.name}}}' was not expanded")
        return tuple(compiled)

    def _slot(self, field: Field, after: _Starts) -> _Slot:
        if after.anything:
            raise TemplateError(
                self.name, f"field {field.name!r} touches another field; put fixed text between them"
            )
        if field.kind == "d" and after.chars & _DIGITS:
            raise TemplateError(self.name, f"number field {field.name!r} is followed by a digit")
        slot = _Slot(field, f"f{len(self._slots)}", frozenset(after.chars) | _SEPARATORS)
        self._slots.append(slot)
        return slot

    def _pattern(self, nodes: tuple[_Compiled, ...]) -> str:
        pieces: list[str] = []
        for node in nodes:
            if isinstance(node, Literal):
                pieces.append(re.escape(node.text))
            elif isinstance(node, _Slot):
                if node.field.kind == "d":
                    pieces.append(f"(?P<{node.group}>[0-9]+)")
                else:
                    excluded = "".join(re.escape(char) for char in sorted(node.forbidden))
                    pieces.append(f"(?P<{node.group}>[^{excluded}]+)")
            else:
                pieces.append(f"(?:{self._pattern(node.parts)})?")
        return "".join(pieces)

    def build(self, values: Mapping[str, object]) -> str:
        """Return the relative path for `values`; raise FieldError naming the missing or bad field."""
        cleaned = {
            key: unicodedata.normalize("NFC", value) if isinstance(value, str) else value
            for key, value in values.items()
        }
        rendered: list[_Rendered] = []
        try:
            self._render(self._nodes, cleaned, rendered)
        except _Missing as missing:
            raise FieldError(self.name, missing.field, "is required but has no value") from None
        return self._check_components(rendered)

    def _render(
        self, nodes: tuple[_Compiled, ...], values: Mapping[str, object], out: list[_Rendered]
    ) -> None:
        for node in nodes:
            if isinstance(node, Literal):
                out.append(_Rendered(node.text, None))
            elif isinstance(node, _Slot):
                value = values.get(node.field.name)
                if value is None or value == "":
                    raise _Missing(node.field.name)
                out.append(_Rendered(self._format(node, value), node.field.name))
            else:
                optional: list[_Rendered] = []
                try:
                    self._render(node.parts, values, optional)
                except _Missing:
                    # The documented meaning of <...>: a missing field drops the whole part.
                    continue
                out.extend(optional)

    def _format(self, slot: _Slot, value: object) -> str:
        name = slot.field.name
        if slot.field.kind == "d":
            if isinstance(value, bool) or not isinstance(value, int):
                problem = f"must be a whole number, got {type(value).__name__} {value!r}"
                raise FieldError(self.name, name, problem)
            if value < 0:
                raise FieldError(self.name, name, f"must not be negative, got {value}")
            return f"{value:0{slot.field.width}d}"
        if not isinstance(value, str):
            raise FieldError(self.name, name, f"must be text, got {type(value).__name__} {value!r}")
        if is_absolute_path(value):
            raise FieldError(self.name, name, f"{value!r} is an absolute path or drive; a field is one name")
        if any(char in _SEPARATORS for char in value):
            raise FieldError(self.name, name, f"{value!r} contains a path separator; a field is one name")
        if value in (".", ".."):
            raise FieldError(self.name, name, f"{value!r} is not a name (it would point outside the folder)")
        unsafe = sorted({char for char in value if is_unsafe_character(char)})
        if unsafe:
            raise FieldError(
                self.name,
                name,
                f"{value!r} contains {unsafe}, not allowed in file names (see safe_component)",
            )
        clash = sorted(set(value) & slot.forbidden)
        if clash:
            raise FieldError(
                self.name, name, f"{value!r} contains {clash}, which separates this field from the next part"
            )
        return value

    def _check_components(self, rendered: list[_Rendered]) -> str:
        components: list[tuple[str, list[str]]] = [("", [])]
        for piece in rendered:
            if piece.field is not None:
                text, fields = components[-1]
                components[-1] = (text + piece.text, [*fields, piece.field])
                continue
            first, *rest = piece.text.split("/")
            text, fields = components[-1]
            components[-1] = (text + first, fields)
            components.extend((segment, []) for segment in rest)
        for text, fields in components:
            if not text:
                raise TemplateError(
                    self.name, "makes an empty folder name (a leading, trailing or double '/')"
                )
            if not is_safe_component(text):
                problem = f"makes {text!r}, not a safe file name (its safe form is {safe_component(text)!r})"
                if fields:
                    raise FieldError(self.name, ", ".join(dict.fromkeys(fields)), problem)
                raise TemplateError(self.name, problem)
        return "/".join(text for text, _ in components)

    def match(self, relative: str) -> ParseResult | None:
        """Parse a normalised relative path (NFC, ``/``-separated); None unless build would make it."""
        found = self._regex.fullmatch(relative)
        if found is None:
            return None
        fields: dict[str, FieldValue] = {}
        for slot in self._slots:
            raw = found[slot.group]
            if raw is None:
                continue
            value: FieldValue = int(raw) if slot.field.kind == "d" else raw
            if fields.setdefault(slot.field.name, value) != value:
                return None
        rendered: list[_Rendered] = []
        try:
            self._render(self._nodes, fields, rendered)
            rebuilt = self._check_components(rendered)
        except (_Missing, NamingError):
            return None
        # Only the canonical spelling counts (padding, optional parts), so parse then build is exact too.
        if rebuilt != relative:
            return None
        literal_chars = sum(len(piece.text) for piece in rendered if piece.field is None)
        text_fields = sum(1 for slot in self._slots if slot.field.kind == "s" and found[slot.group])
        return ParseResult(fields, literal_chars, text_fields)


def _merge_literals(nodes: tuple[Node, ...]) -> tuple[Node, ...]:
    merged: list[Node] = []
    for node in nodes:
        if isinstance(node, OptionalPart):
            node = OptionalPart(_merge_literals(node.parts))
        if isinstance(node, Literal) and merged and isinstance(merged[-1], Literal):
            merged[-1] = Literal(merged[-1].text + node.text)
        else:
            merged.append(node)
    return tuple(merged)
