"""`aipipe demo`'s sample project: its scenes and shots come from the bundled scenario through the
deterministic parser, applied into the sample's character and environment bible."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from sync_server.cli.demo_data import prepare_demo
from sync_server.db.engine import make_engine
from sync_server.db.models import Character, CinematicPreset, Environment, Shot, ShotSubject
from sync_server.db.models_breakdown import BreakdownDraft
from sync_server.settings import Settings


def test_the_demo_project_is_the_sample_scenario_applied_through_the_parser(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "demo", _env_file=None)
    first = prepare_demo(settings)
    again = prepare_demo(settings)  # a re-run changes nothing
    assert first.shots == again.shots == 6
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            (draft,) = conn.execute(select(BreakdownDraft)).all()
            assert draft.status == "applied" and draft.engine == "parser" and draft.source_format == "korean"
            assert draft.source_name == "night_alley.scenario.txt"
            shots = conn.execute(
                select(Shot.code, CinematicPreset.name, Shot.duration_frames)
                .join(CinematicPreset, CinematicPreset.id == Shot.preset_id)
                .order_by(Shot.sort_order)
            ).all()
            assert [(code, preset) for code, preset, _ in shots] == [
                ("SHT_0010", "Establishing Extreme Wide"),
                ("SHT_0020", "Tracking Walk And Talk"),
                ("SHT_0030", "Close-Up"),
                ("SHT_0040", "Two Shot"),
                ("SHT_0050", "Crane Up Reveal"),
                ("SHT_0060", "Close-Up"),
            ]
            # Only the bible's two characters and two places: the scenario's merged into them.
            assert conn.execute(select(Character.name).order_by(Character.name)).scalars().all() == [
                "리나",
                "민수",
            ]
            assert conn.execute(select(Environment.name).order_by(Environment.name)).scalars().all() == [
                "골목길",
                "옥상",
            ]
            worn = conn.execute(
                select(Shot.code, Character.name, ShotSubject.clothing)
                .join(ShotSubject, ShotSubject.shot_id == Shot.id)
                .join(Character, Character.id == ShotSubject.character_id)
                .where(ShotSubject.clothing != "")
                .order_by(Shot.code)
            ).all()
            assert [tuple(r) for r in worn] == [
                ("SHT_0020", "리나", "빨간 코트"),
                ("SHT_0030", "민수", "회색 후드"),
                ("SHT_0060", "리나", "빨간 코트"),
            ]
    finally:
        engine.dispose()
    assert (Path(first.tree) / "scenes" / "SCN_002" / "shots" / "SHT_0060").is_dir()
