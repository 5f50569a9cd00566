"""Errors raised by the naming engine; all are ValueErrors so callers can report them as bad input."""

from __future__ import annotations


class NamingError(ValueError):
    """Base class of every naming-engine error."""


class TemplateError(NamingError):
    """A template is malformed: bad syntax, unknown or cyclic reference, ambiguous layout."""

    def __init__(self, template: str, message: str) -> None:
        super().__init__(f"template {template!r}: {message}")
        self.template = template


class FieldError(NamingError):
    """A field value is missing or cannot be used to build a path."""

    def __init__(self, template: str, field: str, message: str) -> None:
        super().__init__(f"template {template!r}, field {field!r}: {message}")
        self.template = template
        self.field = field


class PathOutsideRootError(NamingError):
    """A path is absolute, climbs with '..', or resolves (through symlinks) outside the storage root."""
