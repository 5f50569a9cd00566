"""bpy-free helpers of the shot-list import panel: the server's diff preview as rows to tick, and the
selection to send back. Tested with plain pytest and inside Blender."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..i18n import iface  # English when there is no Blender (plain pytest)

FORMATS = ("xlsx", "csv", "json")
KINDS = ("shots", "environments", "characters", "specs")


@dataclass(frozen=True)
class DiffLine:
    """One field of one row (or a whole added / removed row) as the panel lists it."""

    key: str  # the row's key: shot id or "row:<n>"
    row: int  # spreadsheet row, 0 for a removed shot
    code: str
    action: str  # added | changed | removed
    field: str  # "" for a removed row
    old: str
    new: str
    server: str
    conflict: bool

    @property
    def use_default(self) -> bool:
        """Ticked at first: every added or changed field, but neither conflicts nor removals."""
        return self.action != "removed" and not self.conflict

    @property
    def label(self) -> str:
        if self.action == "removed":
            return iface("{shot}: missing from the file", shot=self.code)
        if self.action == "added":
            return iface("row {row}: new shot {shot}", row=self.row, shot=self.code) + (
                f" — {self.field} = {self.new}" if self.field else ""
            )
        conflict = iface(" (server: {value})", value=self.server) if self.conflict else ""
        return f"{self.code} {self.field}: {self.old} → {self.new}{conflict}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def lines(preview: dict[str, Any]) -> list[DiffLine]:
    found: list[DiffLine] = []
    for row in preview.get("rows", []):
        fields = row.get("fields") or [
            {"field": "", "old": None, "new": None, "server": None, "conflict": False}
        ]
        if row["action"] == "added":
            fields = fields[:1]  # a new shot is taken whole: one line, its first field as a hint
        for field in fields:
            found.append(
                DiffLine(
                    key=str(row["key"]),
                    row=int(row.get("row") or 0),
                    code=_text(row.get("code")),
                    action=str(row["action"]),
                    field=_text(field.get("field")),
                    old=_text(field.get("old")),
                    new=_text(field.get("new")),
                    server=_text(field.get("server")),
                    conflict=bool(field.get("conflict")),
                )
            )
    return found


def selection(ticked: list[tuple[DiffLine, bool]]) -> dict[str, Any]:
    """The apply request's selection from the ticked lines: a ticked conflict means the file wins."""
    rows: dict[str, dict[str, Any]] = {}
    remove: list[str] = []
    for line, use in ticked:
        if not use:
            continue
        if line.action == "removed":
            remove.append(line.key)
            continue
        choice = rows.setdefault(line.key, {"key": line.key, "fields": [], "overwrite": []})
        if line.action == "added":
            choice.pop("fields", None)
            continue
        choice["fields"].append(line.field)
        if line.conflict:
            choice["overwrite"].append(line.field)
    return {"rows": list(rows.values()), "remove": remove}


def summary(preview: dict[str, Any]) -> str:
    counts = preview.get("summary") or {}
    text = iface(
        "{added} new, {changed} changed, {removed} missing, {conflicts} conflicts",
        added=counts.get("added", 0),
        changed=counts.get("changed", 0),
        removed=counts.get("removed", 0),
        conflicts=counts.get("conflicts", 0),
    )
    errors = preview.get("error_count", 0)
    return iface("{errors} error(s): fix the file, nothing can be applied", errors=errors) if errors else text


def problems(preview: dict[str, Any]) -> list[str]:
    """Errors then warnings, each naming sheet, row and column."""
    out = []
    for problem in preview.get("errors", []) + preview.get("warnings", []):
        where = ", ".join(
            part
            for part in (
                _text(problem.get("sheet")),
                iface("row {row}", row=problem["row"]) if problem.get("row") else "",
                iface("column {column}", column=problem["column"]) if problem.get("column") else "",
            )
            if part
        )
        kind = iface("Error") if problem.get("blocking") else iface("Warning")
        out.append(
            f"{kind} ({where}): {problem.get('message', '')}"
            if where
            else f"{kind}: {problem.get('message')}"
        )
    return out


def export_path(folder: str, project_code: str, kind: str, fmt: str) -> str:
    if kind not in KINDS or fmt not in FORMATS:
        raise ValueError(f"unknown export {kind}/{fmt}")
    return os.path.join(folder, f"{project_code}_{kind}.{fmt}")
