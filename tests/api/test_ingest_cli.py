"""`aipipe ingest` over real HTTP: the server reads the scans inside its AIPIPE_INGEST_ROOTS, the CLI shows
what it did and saves the scan list; no database is opened on the CLI's side."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from PIL import Image

from tests.api.test_ingest import CORRUPT_FRAME, EXR_FRAMES, exr_frame, make_scans, movie, versions
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, login
from tests.support.cli import aipipe, api_key, cli_env


@pytest.fixture(scope="module")
def ingest_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Path]]:
    """A server that may ingest from one folder (AIPIPE_INGEST_ROOTS), and that folder."""
    allowed = tmp_path_factory.mktemp("ingest-cli-root")
    env = {"AIPIPE_INGEST_ROOTS": json.dumps([str(allowed)])}
    server, password = start_server_with_admin(tmp_path_factory.mktemp("ingest-cli-server"), None, env)
    admin = login(server.url, ADMIN, password)
    try:
        yield Api(server.url, server.ws_url, admin, "sqlite", server.data_dir), allowed
    finally:
        admin.close()
        server.stop()


@pytest.fixture
def setup(ingest_api: tuple[Api, Path], tmp_path: Path) -> dict[str, Any]:
    api, allowed = ingest_api
    project = api.project()
    scene = api.scene(project["id"])
    shots = [api.shot(project["id"], scene["id"]) for _ in range(3)]
    env = cli_env(tmp_path / "config", api.base_url, api_key(api, "editor"))
    return {
        "api": api,
        "folder": allowed / uuid.uuid4().hex[:8],
        "project": project,
        "codes": [s["code"] for s in shots],
        "shots": shots,
        "env": env,
    }


def test_ingest_cli_registers_plates_reports_gaps_and_skips_corrupt_files(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    api = setup["api"]
    scans = make_scans(setup["folder"], setup["codes"])
    before = sorted(p.relative_to(scans).as_posix() for p in scans.rglob("*"))
    report = tmp_path / "scan_list.xlsx"
    done = aipipe(
        "ingest", str(scans), "--project", setup["project"]["code"], "--report", str(report),
        env=setup["env"], cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert not (tmp_path / "data").exists()  # the CLI opened no database of its own
    # The originals are where they were, untouched; nothing was added beside them.
    assert sorted(p.relative_to(scans).as_posix() for p in scans.rglob("*")) == before

    a, b, c = setup["shots"]
    [plate] = versions(api, a["id"])
    assert plate["stage"] == "plate" and plate["number"] == 1
    names = [f["name"] for f in plate["files"]]
    assert names == [f"{a['code']}_plate.{f}.exr" for f in EXR_FRAMES if f != CORRUPT_FRAME]
    facts = plate["files"][0]["media"]
    assert (facts["width"], facts["height"], facts["fps"], facts["frame_range"]) == (
        32,
        18,
        "24",
        "1001-1008",
    )
    assert facts["missing_frames"] == [1004, 1005] and facts["timecode"] == "01:00:00:17"
    assert facts["colorspace"] == "ACES2065-1" and facts["exr"]["owner"] == "scan vendor"
    assert plate["provenance"]["ingest"]["in_place"] is True
    assert list(plate["provenance"]["ingest"]["corrupt"]) == [f"{a['code']}_plate.{CORRUPT_FRAME}.exr"]
    thumb = api.admin.get(f"/api/versions/{plate['id']}/thumbnail")
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as image:
        red, green, _ = image.convert("RGB").getpixel((5, 5))
        assert red > green  # the red EXR frame, not a grey placeholder

    b_versions = {v["stage"]: v for v in versions(api, b["id"])}
    assert set(b_versions) == {"plate", "reference"}
    ref = b_versions["plate"]["files"]
    assert [f["name"] for f in ref] == [f"{b['code']}_ref.{n}.png" for n in (7, 8, 9, 10)]
    assert ref[0]["media"]["padding"] == 1 and ref[0]["media"]["colorspace"] == "sRGB"
    witness = b_versions["reference"]["files"][0]["media"]
    assert witness["codec"] == "h264" and witness["timecode"] == "01:00:10:00" and witness["frames"] == 12

    [background] = versions(api, c["id"])  # the corrupt movie was skipped, not registered
    assert background["files"][0]["media"]["padding"] == 5
    assert background["files"][0]["media"]["frame_range"] == "1-3"

    output = done.stdout
    assert "skipped" in output and "unmatched" in output
    # A movie has no frame range: its row shows its frame count instead of an empty cell.
    [witness_row] = [line for line in output.splitlines() if f"{b['code']}_witness.mov" in line]
    assert witness_row.split("│")[2].strip() == "12", witness_row

    rows = list(openpyxl.load_workbook(report)["Scans"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    by_name = {row[header.index("Scan")]: dict(zip(header, row, strict=True)) for row in body}
    assert by_name[f"{c['code']}_broken.mov"]["Result"] == "skipped"
    assert by_name["unrelated.png"]["Result"] == "unmatched"
    assert by_name[f"{a['code']}_plate.####.exr"]["Missing frames"] == "1004-1005"
    assert str(CORRUPT_FRAME) in by_name[f"{a['code']}_plate.####.exr"]["Unreadable files"]
    with zipfile.ZipFile(report) as package:
        pictures = [n for n in package.namelist() if n.startswith("xl/media/")]
    assert len(pictures) == 5  # every usable scan has its thumbnail in the scan list

    as_json = aipipe(
        "ingest", str(scans), "--project", setup["project"]["id"], "--dry-run", "--json", env=setup["env"]
    )
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["summary"]["unmatched"] >= 1  # stdout is the JSON and only that


def test_ingest_again_makes_the_next_version_and_copy_puts_files_in_the_tree(setup: dict[str, Any]) -> None:
    api, folder = setup["api"], setup["folder"]
    a = setup["shots"][0]
    folder.mkdir()
    for frame in (1, 2):
        exr_frame(folder / f"{a['code']}.{frame:04d}.exr", frame)
    for extra in ([], ["--copy"]):
        done = aipipe("ingest", str(folder), "--project", setup["project"]["id"], *extra, env=setup["env"])
        assert done.returncode == 0, done.stderr
    first, second = sorted(versions(api, a["id"]), key=lambda v: v["number"])
    assert (first["number"], second["number"]) == (1, 2)
    copied = api.admin.get(f"/api/versions/{second['id']}/files/{second['files'][0]['id']}")
    assert copied.status_code == 200 and copied.content == (folder / f"{a['code']}.0001.exr").read_bytes()


def test_edl_matches_scans_whose_names_carry_no_shot_code(setup: dict[str, Any], tmp_path: Path) -> None:
    api, folder = setup["api"], setup["folder"]
    a, b, _ = setup["codes"]
    folder.mkdir()
    for frame in (1001, 1002):
        exr_frame(folder / f"A001C003.{frame}.exr", frame)
    movie(folder / "clip_b.mov")
    edl = folder / "cut.edl"
    edl.write_text(
        "TITLE: cut\nFCM: NON-DROP FRAME\n\n"
        "001  A001C003 V     C        01:00:00:00 01:00:02:00 00:00:00:00 00:00:02:00\n"
        "* FROM CLIP NAME: A001C003.####.exr\n"
        f"* LOC: 00:00:00:00 RED {a}\n"
        "002  B002 V     C        02:00:00:00 02:00:01:00 00:00:02:00 00:00:03:00\n"
        "* FROM CLIP NAME: clip_b.mov\n"
        f"* COMMENT: {b}\n"
    )
    code = setup["project"]["code"]
    done = aipipe(
        "ingest", str(folder), "--project", code, "--edl", str(edl), "--stage", "reference",
        "--report", str(tmp_path / "r.xlsx"), env=setup["env"],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shots = {s["code"]: s for s in setup["shots"]}
    assert [v["stage"] for v in versions(api, shots[a]["id"])] == ["reference"]
    assert [v["files"][0]["name"] for v in versions(api, shots[b]["id"])] == ["clip_b.mov"]
    rows = list(openpyxl.load_workbook(tmp_path / "r.xlsx")["Scans"].iter_rows(values_only=True))
    assert {row[rows[0].index("EDL event")] for row in rows[1:]} == {
        "#1 A001C003.####.exr 01:00:00:00-01:00:02:00",
        "#2 clip_b.mov 02:00:00:00-02:00:01:00",
    }
    broken = folder / "broken.edl"
    broken.write_text("this is not an edl\n001 nonsense")
    refused = aipipe("ingest", str(folder), "--project", code, "--edl", str(broken), env=setup["env"])
    assert refused.returncode == 1 and "broken.edl" in refused.stderr
    outside = aipipe("ingest", str(tmp_path), "--project", code, env=setup["env"])
    assert outside.returncode == 1 and "not inside the ingest roots" in outside.stderr


def test_a_scan_list_is_served_only_to_its_project_by_plain_name(setup: dict[str, Any]) -> None:
    api = setup["api"]
    pid = setup["project"]["id"]
    for name in ("aipipe.db", "..%2Faipipe.db", "scan_list_OTHER_20240101_000000.xlsx"):
        assert api.admin.get(f"/api/projects/{pid}/ingest/reports/{name}").status_code == 404
