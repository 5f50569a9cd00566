"""Cell values to API values, row by row: every problem names the sheet, row and column."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..storage.layout import CodeError, ProjectLayout
from .cells import ooxml_unescape, restore
from .columns import NEW_SHOT_STATUSES, SHOT_STATUS_CHOICES
from .data import FIELD_OF, Lookups, ShotRow
from .reader import RawRow, RawTable

CODE_RE = re.compile(r"^[\w][\w.-]{0,63}$")
MAX_TEXT = 20000
SUBJECT_RE = re.compile(r"^(?P<name>.*?)\s*(?:\((?P<clothing>[^()]*)\))?$")
TEXT_FIELDS = ("description", "action", "dialogue", "camera_notes")


@dataclass
class ImportRow:
    row: int
    shot_id: str | None  # None: a new shot
    revision: int | None
    values: dict[str, Any] = field(default_factory=dict)  # API field -> value, only columns present
    refs: dict[str, str] = field(default_factory=dict)  # column key -> cell ("F12"), where known


class _Bad(ValueError):
    pass


def validate(
    table: RawTable, names: Lookups, current: dict[str, ShotRow], layout: ProjectLayout
) -> list[ImportRow]:
    """Typed rows; problems are added to `table.problems`."""
    rows: list[ImportRow] = []
    seen_ids: dict[str, int] = {}
    seen_codes: dict[str, int] = {}
    for raw in table.rows:
        row = _row(table, raw, names, current, layout)
        if row is None:
            continue
        if row.shot_id is not None:
            if row.shot_id in seen_ids:
                _fail(
                    table, raw, "id", f"This shot is also row {seen_ids[row.shot_id]}; keep one row per shot."
                )
                continue
            seen_ids[row.shot_id] = raw.row
        code = row.values.get("code")
        if code:
            if code.casefold() in seen_codes:
                _fail(
                    table, raw, "code", f"Shot code {code} is also used in row {seen_codes[code.casefold()]}."
                )
            seen_codes[code.casefold()] = raw.row
        rows.append(row)
    _check_codes_against_server(table, rows, current)
    _warn_read_only(table, current)
    return rows


def _warn_read_only(table: RawTable, current: dict[str, ShotRow]) -> None:
    """Edits of columns the import does not apply are ignored, but said."""
    for key, now in (("order", lambda s: s.order), ("locked", lambda s: "yes" if s.locked else "no")):
        if key not in table.headers:
            continue
        rows = [
            raw.row
            for raw in table.rows
            if raw.cells.get("id") in current
            and raw.cells.get(key) not in (None, "")
            and _plain(raw.cells[key]).strip() != str(now(current[raw.cells["id"]]))
        ]
        if rows:
            where = ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else "")
            table.warn(
                f"'{table.headers[key]}' is read-only here and was changed in rows {where}; those "
                "changes are ignored (reorder and lock shots in Blender or the API).",
                column=table.headers[key],
            )


def _fail(table: RawTable, raw: RawRow, key: str, message: str) -> None:
    table.fail(message, row=raw.row, column=table.headers.get(key, key), cell=raw.cell_refs.get(key, ""))


def _row(
    table: RawTable, raw: RawRow, names: Lookups, current: dict[str, ShotRow], layout: ProjectLayout
) -> ImportRow | None:
    cells = raw.cells
    shot_id = None
    if cells.get("id") not in (None, ""):
        try:
            shot_id = str(uuid.UUID(str(cells["id"]).strip()))
        except ValueError:
            _fail(table, raw, "id", f"'{cells['id']}' is not a shot ID; leave ID empty for a new shot.")
            return None
        if shot_id not in current:
            _fail(
                table,
                raw,
                "id",
                f"No shot with ID {shot_id} in this project (deleted, or another project's).",
            )
            return None
    revision = None
    if shot_id is not None:
        if "revision" not in table.headers:
            _fail(
                table, raw, "id", "The file has IDs but no Revision column; keep the hidden Revision column."
            )
            return None
        try:
            revision = _int(cells.get("revision"), minimum=1)
        except _Bad:
            _fail(
                table,
                raw,
                "revision",
                "Revision must be the whole number from the export; re-export the list.",
            )
            return None
        if revision is None:
            _fail(
                table, raw, "revision", "Revision is empty; keep the hidden Revision column from the export."
            )
            return None
    result = ImportRow(raw.row, shot_id, revision, refs=raw.cell_refs)
    before = current[shot_id].values if shot_id else None
    ok = True
    for column, api in FIELD_OF.items():
        if column not in table.headers:
            continue
        try:
            result.values[api] = _value(column, cells.get(column), names, layout, before, table.format)
        except _Bad as exc:
            _fail(table, raw, column, str(exc))
            ok = False
    if shot_id is None:
        ok = _check_new(table, raw, result) and ok
    return result if ok else None


def _check_new(table: RawTable, raw: RawRow, row: ImportRow) -> bool:
    if not row.values.get("scene_id"):
        _fail(table, raw, "scene", "A new shot needs a scene (its code, e.g. SCN_001).")
        return False
    status = row.values.get("status") or "draft"
    if status not in NEW_SHOT_STATUSES:
        _fail(table, raw, "status", f"A new shot starts as draft or ready, not '{status}'.")
        return False
    row.values["status"] = status
    return True


def _check_codes_against_server(table: RawTable, rows: list[ImportRow], current: dict[str, ShotRow]) -> None:
    """A code may not be taken by another shot that keeps it (one not renamed by this file)."""
    final = {shot_id: shot.values["code"] for shot_id, shot in current.items()}
    for row in rows:
        if row.shot_id and "code" in row.values and row.values["code"]:
            final[row.shot_id] = row.values["code"]
    owners: dict[str, str] = {}
    for shot_id, code in final.items():
        owners.setdefault(code.casefold(), shot_id)
    for row in rows:
        code = row.values.get("code")
        if not code:
            continue
        owner = owners.get(code.casefold())
        if owner is not None and owner != row.shot_id:
            table.fail(
                f"Shot code {code} belongs to another shot of the project.",
                row=row.row,
                column=table.headers.get("code", "code"),
            )


def _value(
    column: str, value: Any, names: Lookups, layout: ProjectLayout, before: dict[str, Any] | None, fmt: str
) -> Any:
    text = _text(value, fmt)
    if column in TEXT_FIELDS:
        if len(text) > MAX_TEXT:
            raise _Bad(f"At most {MAX_TEXT:,} characters (this cell has {len(text):,}).")
        return text
    if column == "code":
        if not text:
            if before is not None:
                raise _Bad("A shot's code cannot be empty.")
            return None
        if not CODE_RE.match(text):
            raise _Bad(f"'{text}' is not a valid shot code (letters, digits, _ . -; up to 64).")
        if before is None or text != before["code"]:
            try:
                layout.shot_number(text)
            except CodeError as exc:
                raise _Bad(str(exc)) from exc
        return text
    if column == "status":
        if not text and before is not None:
            raise _Bad("Status cannot be empty.")
        if text and text not in SHOT_STATUS_CHOICES:
            raise _Bad(f"'{text}' is not a status; choose one of {', '.join(SHOT_STATUS_CHOICES)}.")
        # Whether the move is allowed is decided with the diff: a cell left as exported is no move at all.
        return text or None
    if column == "duration_frames":
        frames = _int(value, minimum=1, maximum=1_000_000)
        if frames is None:
            if before is not None:
                raise _Bad("Duration cannot be empty.")
            return None
        return frames
    if column in ("handle_in", "handle_out"):
        return _int(value, minimum=0, maximum=1000)
    if column == "scene":
        if not text:
            if before is not None:
                raise _Bad("Scene cannot be empty.")
            return None
        found = names.find(names.scenes, text)
        if found is None:
            raise _Bad(f"No scene '{text}' in this project.")
        return found
    if column in ("preset", "environment"):
        if not text:
            return None
        table = names.presets if column == "preset" else names.environments
        found = names.find(table, text)
        if found is None:
            raise _Bad(f"No {column} named '{text}' in this project.")
        return found
    if column == "characters":
        return _subjects(text, names)
    raise _Bad(f"unknown column {column}")


def _plain(value: Any) -> str:
    """A cell as text for comparisons that cannot fail (read-only columns)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)


def _text(value: Any, fmt: str) -> str:
    """A cell's text as the server stores it: the export's formula quote and xlsx escapes undone."""
    if isinstance(value, (dict, list)):
        raise _Bad("Must be text, not a JSON object or list.")
    if not isinstance(value, str):
        return _plain(value)
    if fmt == "xlsx":
        value = ooxml_unescape(value)
    if fmt in ("xlsx", "csv"):  # JSON is not neutralised on export, so nothing is restored
        value = restore(value)
    if "\x00" in value:
        raise _Bad("Text cannot hold a NUL character.")
    return value


def _int(value: Any, minimum: int, maximum: int | None = None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _Bad(f"Must be a whole number, not {value}.")
    if isinstance(value, float):
        if not value.is_integer():
            raise _Bad(f"Must be a whole number, not {value}.")
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        text = restore(str(value)).strip()
        try:
            number = int(float(text)) if re.fullmatch(r"-?\d+(\.0+)?", text) else int(text)
        except ValueError:
            raise _Bad(f"Must be a whole number, not '{value}'.") from None
    if number < minimum or (maximum is not None and number > maximum):
        limit = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise _Bad(f"{number} is out of range ({limit}).")
    return number


def _subjects(text: str, names: Lookups) -> list[dict[str, str]]:
    subjects: list[dict[str, str]] = []
    seen: set[str] = set()
    for part in re.split(r"[;\n]", text):
        part = part.strip()
        if not part:
            continue
        match = SUBJECT_RE.match(part)
        name = (match.group("name") if match else part).strip()
        clothing = ((match.group("clothing") if match else "") or "").strip()
        character_id = names.find(names.characters, name)
        if character_id is None:
            raise _Bad(f"No character named '{name}' in this project.")
        if character_id in seen:
            raise _Bad(f"{name} is listed twice.")
        seen.add(character_id)
        options = names.clothing.get(character_id) or []
        if clothing and options and clothing not in options:
            raise _Bad(f"'{clothing}' is not one of {name}'s clothing options: {', '.join(options)}.")
        subjects.append({"character_id": character_id, "clothing": clothing})
    return subjects
