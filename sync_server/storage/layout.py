"""Where a project's things live: the naming engine's templates with the project's overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aipipe_shared.naming import (
    NamingError,
    TemplateSet,
    default_template_set,
    resolve_inside,
    safe_component,
)

from ..db.models import Project


class CodeError(ValueError):
    """A scene or shot code that the project's naming templates cannot read."""


@dataclass(frozen=True)
class ProjectLayout:
    """Paths of one project, relative to the storage root, and their absolute places on this server."""

    root: Path | None  # None: names and codes only, no place on disk
    project_field: str
    templates: TemplateSet

    @classmethod
    def of(cls, project: Project, storage_root: Path | None = None) -> ProjectLayout:
        return cls(storage_root, project_folder(project), project_templates(project.naming))

    # -- codes ----------------------------------------------------------------------------------------

    def scene_number(self, code: str) -> int:
        return self._number("scene_code", "scene", code)

    def shot_number(self, code: str) -> int:
        return self._number("shot_code", "shot", code)

    def _number(self, template: str, field: str, code: str) -> int:
        try:
            fields = self.templates.parse(template, code)
        except NamingError as exc:  # e.g. '..' or a separator in a name from an imported file
            raise CodeError(f"'{code}' cannot be a {field} code: {exc}") from exc
        if fields is None or not isinstance(fields.get(field), int):
            raise CodeError(
                f"'{code}' does not follow the project's {template} template '{self.templates[template]}'"
            )
        return int(fields[field])

    def scene_code(self, number: int) -> str:
        return self.templates.build("scene_code", scene=number)

    def shot_code(self, number: int) -> str:
        return self.templates.build("shot_code", shot=number)

    # -- paths ----------------------------------------------------------------------------------------

    def build(self, template: str, **fields: object) -> str:
        return self.templates.build(template, project=self.project_field, **fields)

    def absolute(self, relative: str) -> Path:
        """The real path of `relative` inside the storage root; refuses anything that escapes it."""
        if self.root is None:
            raise RuntimeError("this layout was made without a storage root")
        return Path(resolve_inside(self.root, relative))

    def shot_fields(self, scene_code: str, shot_code: str) -> dict[str, int]:
        return {"scene": self.scene_number(scene_code), "shot": self.shot_number(shot_code)}

    def version_dir(self, scene_code: str, shot_code: str, stage: str, number: int) -> str:
        return self.build(
            "shot_version_dir", **self.shot_fields(scene_code, shot_code), stage=stage, version=number
        )


def project_folder(project: Project) -> str:
    """The `{project}` field: the project's storage_root if set, else its code, made safe as a name."""
    return safe_component(project.storage_root or project.code)


def project_templates(overrides: Mapping[str, str] | None) -> TemplateSet:
    try:
        return default_template_set(overrides or {})
    except NamingError as exc:
        raise CodeError(str(exc)) from exc
