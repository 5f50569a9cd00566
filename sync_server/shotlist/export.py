"""Exports, each its own file: shot list, environments (with prompts), character sheet, technical specs;
as xlsx, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..costs.service import shot_gpu_seconds
from ..db.models import Character, CinematicPreset, Environment, Project, Shot, ShotSubject
from . import workbook as wb
from .cells import neutralise
from .columns import (
    CHARACTER_COLUMNS,
    ENVIRONMENT_COLUMNS,
    FORMAT,
    PRESET_COLUMNS,
    SHOT_COLUMNS,
    SHOT_STATUS_CHOICES,
    SHOTS_SHEET,
    SPEC_COLUMNS,
    Column,
)
from .data import FIELD_OF, Lookups, ShotRow, display, lookups, project_specs, shot_rows

Kind = Literal["shots", "environments", "characters", "specs"]
Format = Literal["xlsx", "csv", "json"]
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
SHEET_TITLES = {
    "environments": ("Environments", "환경"),
    "characters": ("Characters", "캐릭터"),
    "specs": ("Specs", "기술 사양"),
    "presets": ("Presets", "프리셋"),
}


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    media_type: str
    filename: str
    rows: int
    thumbnails: int = 0


def export(
    session: Session,
    project: Project,
    kind: Kind,
    fmt: Format,
    *,
    lang: str = "en",
    storage_root: Path | None = None,
    thumbnail_px: int = 96,
) -> ExportFile:
    stamp = datetime.now(UTC)
    meta = {
        "format": FORMAT,
        "kind": kind,
        "project_id": str(project.id),
        "project_code": project.code,
        "exported_at": stamp.isoformat(),
        "lang": lang,
    }
    name = f"{project.code}_{kind}_{stamp.strftime('%Y%m%d_%H%M%S')}.{fmt}"
    if kind == "shots":
        rows = shot_rows(session, project.id, storage_root if fmt == "xlsx" else None)
        names = lookups(session, project.id)
        gpu = shot_gpu_seconds(session, project.id)
        content, placed = _shots(rows, names, fmt, lang, meta, thumbnail_px, gpu)
        return ExportFile(content, MEDIA_TYPES[fmt], name, len(rows), placed)
    columns, records = _table(session, project, kind)
    if fmt == "json":
        content = _json({**meta, kind: records})
    elif fmt == "csv":
        content = _csv(columns, [[r.get(c.key) for c in columns] for r in records], lang)
    else:
        book = wb.new_workbook()
        title = SHEET_TITLES[kind][lang == "ko"]
        wb.write_table(book, title, columns, ([r.get(c.key) for c in columns] for r in records), lang)
        if kind == "specs":
            presets = _presets(session, project)
            wb.write_table(
                book,
                SHEET_TITLES["presets"][lang == "ko"],
                PRESET_COLUMNS,
                ([p.get(c.key) for c in PRESET_COLUMNS] for p in presets),
                lang,
            )
        wb.add_meta(book, meta)
        content = wb.to_bytes(book)
    return ExportFile(content, MEDIA_TYPES[fmt], name, len(records))


# -- the shot list -----------------------------------------------------------------------------------------


def shot_cells(row: ShotRow, names: Lookups, gpu_seconds: float = 0.0) -> dict[str, Any]:
    """One shot as the sheet shows it, by column key (`gpu_seconds`: the farm's GPU time on it)."""
    cells: dict[str, Any] = {
        "id": row.id,
        "revision": row.revision,
        "thumbnail": None,
        "order": row.order,
        "locked": "yes" if row.locked else "no",
        "updated_at": row.updated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "gpu_hours": round(gpu_seconds / 3600.0, 2),
    }
    for column, api in FIELD_OF.items():
        value = display(api, row.values[api], names.names)
        cells[column] = "" if value is None else value
    return cells


def _shots(
    rows: list[ShotRow],
    names: Lookups,
    fmt: str,
    lang: str,
    meta: dict[str, Any],
    thumbnail_px: int,
    gpu: dict[uuid.UUID, float],
) -> tuple[bytes, int]:
    table = [shot_cells(row, names, gpu.get(uuid.UUID(row.id), 0.0)) for row in rows]
    if fmt == "json":
        shots = [{k: v for k, v in cells.items() if k != "thumbnail"} for cells in table]
        return _json({**meta, "shots": shots}), 0
    if fmt == "csv":
        columns = [c for c in SHOT_COLUMNS if c.kind != "image"]
        return _csv(columns, [[cells[c.key] for c in columns] for cells in table], lang), 0
    book = wb.new_workbook()
    sheet = wb.write_table(
        book, SHOTS_SHEET[lang == "ko"], SHOT_COLUMNS, ([c[k.key] for k in SHOT_COLUMNS] for c in table), lang
    )
    keys = [c.key for c in SHOT_COLUMNS]
    wb.add_choices(book, sheet, keys.index("status"), len(rows), "Statuses", SHOT_STATUS_CHOICES)
    wb.add_choices(book, sheet, keys.index("preset"), len(rows), "Presets", _names(names.presets, names))
    wb.add_choices(
        book, sheet, keys.index("environment"), len(rows), "Environments", _names(names.environments, names)
    )
    placed = wb.add_thumbnails(sheet, keys.index("thumbnail"), [r.thumbnail for r in rows], thumbnail_px)
    wb.add_meta(book, meta)
    return wb.to_bytes(book), placed


def _names(table: dict[str, str], names: Lookups) -> list[str]:
    return sorted({names.names[i] for i in table.values()}, key=str.casefold)


# -- the other exports ------------------------------------------------------------------------------------


def _table(session: Session, project: Project, kind: str) -> tuple[tuple[Column, ...], list[dict[str, Any]]]:
    if kind == "specs":
        return SPEC_COLUMNS, [{"key": key, "value": value} for key, value in project_specs(project)]
    codes = _shot_codes_by(session, project, kind)
    if kind == "environments":
        model, columns = Environment, ENVIRONMENT_COLUMNS
    else:
        model, columns = Character, CHARACTER_COLUMNS
    records = []
    for obj in session.scalars(select(model).where(model.project_id == project.id).order_by(model.name)):
        record = {c.key: getattr(obj, c.key, None) for c in columns if c.key != "shots"}
        record["id"] = str(obj.id)
        record["shots"] = ", ".join(codes.get(obj.id, []))
        records.append(record)
    return columns, records


def _shot_codes_by(session: Session, project: Project, kind: str) -> dict[Any, list[str]]:
    found: dict[Any, list[str]] = {}
    if kind == "environments":
        stmt = select(Shot.environment_id, Shot.code).where(
            Shot.project_id == project.id, Shot.environment_id.is_not(None)
        )
    else:
        stmt = (
            select(ShotSubject.character_id, Shot.code)
            .join(Shot, Shot.id == ShotSubject.shot_id)
            .where(Shot.project_id == project.id)
        )
    for owner, code in session.execute(stmt.order_by(Shot.sort_order)):
        found.setdefault(owner, []).append(code)
    return found


def _presets(session: Session, project: Project) -> list[dict[str, Any]]:
    stmt = (
        select(CinematicPreset)
        .where(or_(CinematicPreset.project_id == project.id, CinematicPreset.project_id.is_(None)))
        .order_by(CinematicPreset.builtin, CinematicPreset.name)
    )
    return [
        {**{c.key: getattr(p, c.key) for c in PRESET_COLUMNS}, "builtin": "yes" if p.builtin else "no"}
        for p in session.scalars(stmt)
    ]


# -- plain formats ----------------------------------------------------------------------------------------


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=1, default=str).encode()


def _csv(columns: list[Column] | tuple[Column, ...], rows: list[list[Any]], lang: str) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens Korean text correctly; formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.header(lang) for c in columns])
    for row in rows:
        writer.writerow([neutralise(_csv_text(v)) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode()


def _csv_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return value
