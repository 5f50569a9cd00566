"""`aipipe project archive`: the project folder and its records in one zip, Korean names intact."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from sync_server.db.engine import make_database
from sync_server.db.migrate import upgrade
from sync_server.db.models import (
    Character,
    CinematicPreset,
    Environment,
    Project,
    ReviewNote,
    Scene,
    Shot,
    ShotSubject,
    Version,
    VersionFile,
)
from sync_server.projects.archive import PROJECT_JSON, ArchiveError, archive_project
from sync_server.settings import Settings
from sync_server.storage.layout import project_folder

MOVIE = bytes(range(256)) * 4096  # 1 MiB that does not compress
CONFIG = json.dumps({"name": "밤의 골목", "fps": "24"}, ensure_ascii=False).encode("utf-8")


@pytest.fixture
def studio(tmp_path: Path) -> tuple[Settings, str]:
    """A migrated SQLite database with one Korean-named project, and files in its folder."""
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    settings.ensure_dirs()
    url = settings.resolved_database_url
    upgrade(url)
    db = make_database(url)
    with db.write_sessions() as session:
        project = Project(code="NIGHT", name="밤의 골목", storage_root="밤의골목_2026")
        session.add(project)
        session.flush()
        scene = Scene(project_id=project.id, code="SCN_001", name="골목길")
        rina = Character(project_id=project.id, name="리나", clothing_options=["교복"])
        alley = Environment(project_id=project.id, name="비 오는 골목", time_of_day="밤")
        preset = CinematicPreset(project_id=project.id, name="클로즈업", lens_mm=85.0)
        session.add_all([scene, rina, alley, preset])
        session.flush()
        shot = Shot(
            project_id=project.id,
            scene_id=scene.id,
            code="SHT_0010",
            dialogue="리나: 가자",
            environment_id=alley.id,
            preset_id=preset.id,
        )
        shot.subjects = [ShotSubject(character_id=rina.id, clothing="교복")]
        session.add(shot)
        session.flush()
        folder = project_folder(project)
        version = Version(
            project_id=project.id,
            shot_id=shot.id,
            stage="render",
            number=1,
            path=f"{folder}/scenes/SCN_001/shots/SHT_0010/render/v001",
        )
        version.files = [
            VersionFile(
                name="SHT_0010_v001.mp4",
                path=f"{version.path}/SHT_0010_v001.mp4",
                size=len(MOVIE),
                sha256="0" * 64,
                mime="video/mp4",
            ),
            VersionFile(
                name="gone.png", path=f"{version.path}/gone.png", size=1, sha256="0" * 64, mime="image/png"
            ),
        ]
        session.add(version)
        session.flush()
        session.add(ReviewNote(version_id=version.id, author_name="감독", verdict="approve", text="좋아요"))
        session.commit()
    db.dispose()
    root = settings.resolved_storage_root / folder
    (root / "scenes/SCN_001/shots/SHT_0010/render/v001").mkdir(parents=True)
    (root / "scenes/SCN_001/shots/SHT_0010/render/v001/SHT_0010_v001.mp4").write_bytes(MOVIE)
    (root / "assets/characters/CHR_리나").mkdir(parents=True)
    (root / "assets/characters/CHR_리나/character_meta.json").write_bytes(CONFIG)
    (root / "project_config.json").write_bytes(CONFIG)
    return settings, folder


def test_archive_holds_the_project_folder_byte_for_byte_and_its_records(
    studio: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, folder = studio
    out = tmp_path / "out"
    out.mkdir()
    result = archive_project(settings, "NIGHT", out)

    assert result.path.parent == out and result.path.name.startswith("밤의골목_2026-")
    assert [p.name for p in out.iterdir()] == [result.path.name]  # no temporary file left behind
    movie = f"{folder}/scenes/SCN_001/shots/SHT_0010/render/v001/SHT_0010_v001.mp4"
    with zipfile.ZipFile(result.path) as bundle:
        assert bundle.testzip() is None
        assert bundle.read(movie) == MOVIE
        assert bundle.read(f"{folder}/project_config.json") == CONFIG
        assert bundle.read(f"{folder}/assets/characters/CHR_리나/character_meta.json") == CONFIG
        # Already-compressed media is stored as it is; text is deflated.
        assert bundle.getinfo(movie).compress_type == zipfile.ZIP_STORED
        assert bundle.getinfo(f"{folder}/project_config.json").compress_type == zipfile.ZIP_DEFLATED
        # Korean names are written as UTF-8 (flag 0x800), so every unzip tool shows them intact.
        assert bundle.getinfo(f"{folder}/project_config.json").flag_bits & 0x800
        records = json.loads(bundle.read(PROJECT_JSON).decode("utf-8"))

    assert records["project"]["name"] == "밤의 골목"
    assert [s["code"] for s in records["shots"]] == ["SHT_0010"]
    shot = records["shots"][0]
    assert shot["dialogue"] == "리나: 가자"
    rina = records["characters"][0]
    assert shot["subjects"] == [
        {"shot_id": shot["id"], "character_id": rina["id"], "clothing": "교복", "position": 0}
    ]
    assert records["environments"][0]["name"] == "비 오는 골목"
    assert [p["name"] for p in records["presets"]] == ["클로즈업"]
    (version,) = records["versions"]
    assert [f["name"] for f in version["files"]] == ["SHT_0010_v001.mp4", "gone.png"]
    assert version["review_notes"][0]["text"] == "좋아요"
    assert records["missing_files"] == [f"{version['path']}/gone.png"]
    assert result.missing == records["missing_files"]
    assert result.files == 3


def test_an_existing_out_file_is_never_overwritten(studio: tuple[Settings, str], tmp_path: Path) -> None:
    settings, _ = studio
    taken = tmp_path / "taken.zip"
    taken.write_bytes(b"keep me")
    with pytest.raises(ArchiveError, match="already exists"):
        archive_project(settings, "NIGHT", taken)
    assert taken.read_bytes() == b"keep me"


def test_the_project_code_is_found_case_insensitively(studio: tuple[Settings, str], tmp_path: Path) -> None:
    settings, _ = studio
    assert archive_project(settings, "night", tmp_path / "a.zip").project_code == "NIGHT"


def test_an_unknown_code_is_a_clear_error_that_lists_the_projects(
    studio: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, _ = studio
    with pytest.raises(ArchiveError, match=r"no project with code 'NOPE' \(projects: NIGHT\)"):
        archive_project(settings, "NOPE", tmp_path)
    assert list(tmp_path.glob("*.zip")) == []


def test_the_archive_gets_the_mode_the_umask_gives(studio: tuple[Settings, str], tmp_path: Path) -> None:
    settings, _ = studio
    before = os.umask(0o027)
    try:
        made = archive_project(settings, "NIGHT", tmp_path)
    finally:
        os.umask(before)
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o640
