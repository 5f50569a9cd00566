"""Scan ingest: generated EXR/PNG sequences (gaps, odd padding, a corrupt frame) and movies (one corrupt),
ingested with `aipipe ingest` and over the API; what was registered, the API shows."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import OpenEXR
import openpyxl
import pytest
from PIL import Image

from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, assert_problem, login
from tests.support.server import run_cli

EXR_FRAMES = [1001, 1002, 1003, 1006, 1007, 1008]  # 1004-1005 missing
CORRUPT_FRAME = 1007


def exr_frame(path: Path, frame: int, width: int = 32, height: int = 18) -> None:
    pixels = np.zeros((height, width, 3), dtype=np.float16)
    pixels[..., 0] = 0.8  # red
    timecode = OpenEXR.TimeCode()
    timecode.hours, timecode.minutes, timecode.seconds, timecode.frame = 1, 0, 0, frame % 24
    header = {
        "compression": OpenEXR.ZIP_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        "framesPerSecond": Fraction(24, 1),
        "timeCode": timecode,
        "colorSpace": "ACES2065-1",
        "owner": "scan vendor",
    }
    with OpenEXR.File(header, {"RGB": pixels}) as exr:
        exr.write(str(path))


def movie(path: Path, seconds: float = 0.5, timecode: str = "01:00:10:00") -> None:
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=64x36:rate=24:duration={seconds}",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-timecode",
            timecode,
            str(path),
        ],
        check=True,
        timeout=60,
    )


def make_scans(root: Path, codes: list[str]) -> Path:
    """SHT_A: an EXR plate with a gap and a corrupt frame; SHT_B: an unpadded PNG sequence (7..10) and a
    movie; SHT_C: a 5-digit padded sequence and a corrupt movie; plus one scan that matches no shot."""
    a, b, c = codes
    plates = root / "day1" / a
    plates.mkdir(parents=True)
    for frame in EXR_FRAMES:
        exr_frame(plates / f"{a}_plate.{frame:04d}.exr", frame)
    (plates / f"{a}_plate.{CORRUPT_FRAME:04d}.exr").write_bytes(b"not an exr at all" * 10)
    refs = root / "day1" / "refs"
    refs.mkdir(parents=True)
    for frame in (7, 8, 9, 10):
        Image.new("RGB", (40, 30), "green").save(refs / f"{b}_ref.{frame}.png")
    for frame in (1, 2, 3):
        Image.new("RGB", (40, 30), "blue").save(refs / f"{c}_bg.{frame:05d}.png")
    movie(refs / f"{b}_witness.mov")
    (refs / f"{c}_broken.mov").write_bytes(b"\x00\x00\x00\x18ftypqt  " + b"garbage" * 100)
    Image.new("RGB", (40, 30), "white").save(refs / "unrelated.png")
    (refs / "notes.txt").write_text("not a scan")
    return root


@pytest.fixture
def project(api: Api) -> dict[str, Any]:
    project = api.project()
    scene = api.scene(project["id"])
    shots = [api.shot(project["id"], scene["id"]) for _ in range(3)]
    return {"project": project, "codes": [s["code"] for s in shots], "shots": shots}


def versions(api: Api, shot_id: str) -> list[dict[str, Any]]:
    response = api.admin.get(f"/api/shots/{shot_id}/versions")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_ingest_cli_registers_plates_reports_gaps_and_skips_corrupt_files(
    api: Api, project: dict[str, Any], tmp_path: Path
) -> None:
    scans = make_scans(tmp_path / "scans", project["codes"])
    before = sorted(p.relative_to(scans).as_posix() for p in scans.rglob("*"))
    report = tmp_path / "scan_list.xlsx"
    done = run_cli(
        "ingest",
        str(scans),
        "--project",
        project["project"]["code"],
        "--report",
        str(report),
        data_dir=api.data_dir,
        database_url=api.database_url,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    # The originals are where they were, untouched; nothing was added beside them.
    assert sorted(p.relative_to(scans).as_posix() for p in scans.rglob("*")) == before

    a, b, c = project["shots"]
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


def test_ingest_again_makes_the_next_version_and_copy_puts_files_in_the_tree(
    api: Api, project: dict[str, Any], tmp_path: Path
) -> None:
    a = project["shots"][0]
    folder = tmp_path / "plate"
    folder.mkdir()
    for frame in (1, 2):
        exr_frame(folder / f"{a['code']}.{frame:04d}.exr", frame)
    for extra in ([], ["--copy"]):
        done = run_cli(
            "ingest",
            str(folder),
            "--project",
            project["project"]["id"],
            "--report",
            str(tmp_path / "r.xlsx"),
            *extra,
            data_dir=api.data_dir,
            database_url=api.database_url,
        )
        assert done.returncode == 0, done.stderr
    first, second = sorted(versions(api, a["id"]), key=lambda v: v["number"])
    assert (first["number"], second["number"]) == (1, 2)
    copied = api.admin.get(f"/api/versions/{second['id']}/files/{second['files'][0]['id']}")
    assert copied.status_code == 200 and copied.content == (folder / f"{a['code']}.0001.exr").read_bytes()


def test_edl_matches_scans_whose_names_carry_no_shot_code(
    api: Api, project: dict[str, Any], tmp_path: Path
) -> None:
    a, b, _ = project["codes"]
    folder = tmp_path / "vendor"
    folder.mkdir()
    for frame in (1001, 1002):
        exr_frame(folder / f"A001C003.{frame}.exr", frame)
    movie(folder / "clip_b.mov")
    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: cut\nFCM: NON-DROP FRAME\n\n"
        "001  A001C003 V     C        01:00:00:00 01:00:02:00 00:00:00:00 00:00:02:00\n"
        "* FROM CLIP NAME: A001C003.####.exr\n"
        f"* LOC: 00:00:00:00 RED {a}\n"
        "002  B002 V     C        02:00:00:00 02:00:01:00 00:00:02:00 00:00:03:00\n"
        "* FROM CLIP NAME: clip_b.mov\n"
        f"* COMMENT: {b}\n"
    )
    done = run_cli(
        "ingest",
        str(folder),
        "--project",
        project["project"]["code"],
        "--edl",
        str(edl),
        "--stage",
        "reference",
        "--report",
        str(tmp_path / "r.xlsx"),
        data_dir=api.data_dir,
        database_url=api.database_url,
    )
    assert done.returncode == 0, done.stderr
    shots = {s["code"]: s for s in project["shots"]}
    assert [v["stage"] for v in versions(api, shots[a]["id"])] == ["reference"]
    assert [v["files"][0]["name"] for v in versions(api, shots[b]["id"])] == ["clip_b.mov"]
    rows = list(openpyxl.load_workbook(tmp_path / "r.xlsx")["Scans"].iter_rows(values_only=True))
    assert {row[rows[0].index("EDL event")] for row in rows[1:]} == {
        "#1 A001C003.####.exr 01:00:00:00-01:00:02:00",
        "#2 clip_b.mov 02:00:00:00-02:00:01:00",
    }
    broken = tmp_path / "broken.edl"
    broken.write_text("this is not an edl\n001 nonsense")
    refused = run_cli(
        "ingest", str(folder), "--project", project["project"]["code"], "--edl", str(broken),
        data_dir=api.data_dir, database_url=api.database_url,
    )  # fmt: skip
    assert refused.returncode == 1 and "broken.edl" in refused.stderr


@pytest.fixture(scope="module")
def ingest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """A server that may ingest from one folder (AIPIPE_INGEST_ROOTS)."""
    allowed = tmp_path_factory.mktemp("ingest-root")
    env = {"AIPIPE_INGEST_ROOTS": json.dumps([str(allowed)])}
    server, password = start_server_with_admin(tmp_path_factory.mktemp("ingest-server"), None, env)
    admin = login(server.url, ADMIN, password)
    try:
        yield admin, allowed
    finally:
        admin.close()
        server.stop()


def test_ingest_api_reads_only_inside_the_configured_roots(
    ingest_server: tuple[Any, Path], tmp_path: Path
) -> None:
    admin, allowed = ingest_server
    project = admin.post("/api/projects", json={"code": "INGAPI", "name": "ingest"}).json()
    scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
    shot = admin.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]}).json()
    folder = allowed / "drop"
    folder.mkdir()
    for frame in (1, 2, 3):
        exr_frame(folder / f"{shot['code']}_plate.{frame}.exr", frame)
    response = admin.post(f"/api/projects/{project['id']}/ingest", json={"path": str(folder)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["summary"]["registered"] == 1 and Path(body["report"]).is_file()
    assert body["scans"][0]["version"] == "plate v001" and body["scans"][0]["frame_range"] == "1-3"
    outside = admin.post(f"/api/projects/{project['id']}/ingest", json={"path": str(tmp_path)})
    assert_problem(outside, 403, field="path")
    escape = admin.post(f"/api/projects/{project['id']}/ingest", json={"path": str(allowed / ".." / "x")})
    assert_problem(escape, 403, field="path")
    bad_pattern = admin.post(
        f"/api/projects/{project['id']}/ingest", json={"path": str(folder), "pattern": "(no group"}
    )
    assert_problem(bad_pattern, 422, field="pattern")


def test_ingest_api_is_off_without_roots(api: Api, project: dict[str, Any], tmp_path: Path) -> None:
    response = api.admin.post(
        f"/api/projects/{project['project']['id']}/ingest", json={"path": str(tmp_path)}
    )
    body = assert_problem(response, 403, field="path")
    assert "AIPIPE_INGEST_ROOTS" in body["detail"]
