"""A project's named templates: references expanded, then build, parse and identify by name."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from .errors import TemplateError
from .paths import StrPath, relative_to_root, split_relative
from .template import FieldValue, Node, OptionalPart, Reference, Template, parse_syntax

_TEMPLATE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PATH_TEMPLATE_SUFFIXES = ("_dir", "_file")


@dataclass(frozen=True)
class TemplateMatch:
    """What `TemplateSet.identify` found: the template, its fields, and the (ancestor) path it matched."""

    name: str
    fields: dict[str, FieldValue]
    path: str
    exact: bool


class TemplateSet(Mapping[str, str]):
    """Immutable mapping of template name -> template text; every template is checked when the set is made."""

    def __init__(self, templates: Mapping[str, str]) -> None:
        self._sources = dict(templates)
        for name in self._sources:
            if not isinstance(name, str) or not _TEMPLATE_NAME.match(name):
                raise TemplateError(str(name), "is not a valid template name (letters, digits, '_')")
        self._compiled = {
            name: Template(name, source, self._expand(name, ())) for name, source in self._sources.items()
        }

    def __getitem__(self, name: str) -> str:
        return self._sources[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def __repr__(self) -> str:
        return f"TemplateSet({self._sources!r})"

    def with_overrides(self, overrides: Mapping[str, str]) -> TemplateSet:
        """Return a new set where `overrides` replace or add templates (a project's own naming)."""
        return TemplateSet({**self._sources, **overrides})

    def template(self, name: str) -> Template:
        """Return the compiled template `name`; TemplateError when there is none."""
        try:
            return self._compiled[name]
        except KeyError:
            known = ", ".join(sorted(self._compiled))
            raise TemplateError(name, f"no such template; known templates: {known}") from None

    def fields(self, name: str) -> dict[str, str]:
        """Field name -> kind (``"d"`` number, ``"s"`` text) used by template `name`, references included."""
        return self.template(name).fields

    def build(self, template_name: str, /, **fields: object) -> str:
        """Build the ``/``-separated path relative to the storage root; FieldError names a bad field."""
        return self.template(template_name).build(fields)

    def parse(
        self, template_name: str, path: StrPath, /, *, root: StrPath | None = None
    ) -> dict[str, FieldValue] | None:
        """Fields of `path` under `template_name`, numbers as int; None when it does not match.

        `path` is relative to the storage root, or absolute when `root` is given; a path outside the root
        raises PathOutsideRootError.
        """
        template = self.template(template_name)
        found = template.match("/".join(_relative_parts(path, root)))
        return None if found is None else found.fields

    def identify(
        self,
        path: StrPath,
        /,
        *,
        root: StrPath | None = None,
        names: Iterable[str] | None = None,
    ) -> TemplateMatch | None:
        """Best path template for `path`, else for its nearest matching ancestor; None if none matches.

        Candidates are `names`, by default the path templates: names ending in ``_dir`` or ``_file``
        (``shot_code`` or ``version_file_name`` make one name, not a path from the root, and would
        claim a project called ``SHT_010``). The most specific match wins: most fixed text, then fewest
        text fields, then name.
        """
        if names is None:
            names = [name for name in self._sources if name.endswith(_PATH_TEMPLATE_SUFFIXES)]
        candidates = [self.template(name) for name in names]
        parts = _relative_parts(path, root)
        for depth in range(len(parts), 0, -1):
            relative = "/".join(parts[:depth])
            scored = []
            for template in candidates:
                found = template.match(relative)
                if found is not None:
                    scored.append(((-found.literal_chars, found.text_fields, template.name), found))
            if scored:
                (_, _, name), found = min(scored, key=lambda item: item[0])
                return TemplateMatch(name, found.fields, relative, exact=depth == len(parts))
        return None

    def _expand(self, name: str, chain: tuple[str, ...]) -> tuple[Node, ...]:
        if name in chain:
            cycle = " -> ".join((*chain[chain.index(name) :], name))
            raise TemplateError(chain[0], f"references form a cycle: {cycle}")
        return self._expand_nodes(parse_syntax(name, self._sources[name]), (*chain, name))

    def _expand_nodes(self, nodes: tuple[Node, ...], chain: tuple[str, ...]) -> tuple[Node, ...]:
        expanded: list[Node] = []
        for node in nodes:
            if isinstance(node, Reference):
                if node.name not in self._sources:
                    used_by = f" (expanding {chain[0]!r})" if len(chain) > 1 else ""
                    raise TemplateError(chain[-1], f"refers to unknown template '{{@{node.name}}}'{used_by}")
                expanded.extend(self._expand(node.name, chain))
            elif isinstance(node, OptionalPart):
                expanded.append(OptionalPart(self._expand_nodes(node.parts, chain)))
            else:
                expanded.append(node)
        return tuple(expanded)


def _relative_parts(path: StrPath, root: StrPath | None) -> tuple[str, ...]:
    text = os.fspath(path)
    relative = text if root is None else relative_to_root(root, text)
    # NFC so that names read from macOS (NFD) match the names the templates build.
    return tuple(unicodedata.normalize("NFC", part) for part in split_relative(relative))
