"""Scan ingest: generated EXR/PNG sequences (gaps, odd padding, a corrupt frame) and movies (one corrupt),
ingested over the API (`aipipe ingest`: test_ingest_cli.py); what was registered, the API shows."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import OpenEXR
import pytest
from PIL import Image

from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, assert_problem, login

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


NTSC_EDLS = {
    # (project fps, FCM line, source timecodes of the two events as the EDL writes them)
    "23.976": ("23.976", "NON-DROP FRAME", ("01:00:00:00", "01:00:02:00", "02:00:00:00", "02:00:01:00")),
    "29.97 drop": ("29.97", "DROP FRAME", ("01:00:00;00", "01:00:02;00", "02:00:00;00", "02:00:01;00")),
    "29.97 non-drop": (
        "29.97",
        "NON-DROP FRAME",
        ("01:00:00:00", "01:00:02:00", "02:00:00:00", "02:00:01:00"),
    ),
}


@pytest.mark.parametrize("case", list(NTSC_EDLS))
def test_an_edl_at_an_ntsc_rate_matches_scans_and_keeps_its_timecodes(
    ingest_server: tuple[Any, Path], case: str
) -> None:
    """23.976 and 29.97 projects read EDLs at their exact rate (24000/1001, 30000/1001); the report shows
    each event's source timecodes as the EDL counts them (drop or non-drop)."""
    admin, allowed = ingest_server
    fps, fcm, (a_in, a_out, b_in, b_out) = NTSC_EDLS[case]
    code = "NTSC" + "".join(c for c in case if c.isalnum()).upper()[:8]
    project = admin.post("/api/projects", json={"code": code, "name": case, "fps": fps}).json()
    scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
    a, b = (
        admin.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]}).json()
        for _ in "ab"
    )
    folder = allowed / code
    folder.mkdir()
    for frame in (1001, 1002, 1003):
        exr_frame(folder / f"A001C003.{frame}.exr", frame)
    movie(folder / "clip_b.mov")
    edl = folder / "cut.edl"
    edl.write_text(
        f"TITLE: cut\nFCM: {fcm}\n\n"
        f"001  A001C003 V     C        {a_in} {a_out} 00:00:00:00 00:00:02:00\n"
        "* FROM CLIP NAME: A001C003.####.exr\n"
        f"* COMMENT: {a['code']}\n"
        f"002  B002 V     C        {b_in} {b_out} 00:00:02:00 00:00:03:00\n"
        "* FROM CLIP NAME: clip_b.mov\n"
        f"* COMMENT: {b['code']}\n"
    )
    response = admin.post(
        f"/api/projects/{project['id']}/ingest",
        json={"path": str(folder), "edl": str(edl), "stage": "plate", "handle_in": 1},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["summary"]["registered"] == 2, body
    assert {s["edl"] for s in body["scans"]} == {
        f"#1 A001C003.####.exr {a_in}-{a_out}",
        f"#2 clip_b.mov {b_in}-{b_out}",
    }
    [plate] = versions_of(admin, a["id"])
    # what the scan holds: frames 1001-1003, the first of them a head handle (as stated)
    assert (plate["first_frame"], plate["frame_count"], plate["handle_in"], plate["handle_out"]) == (
        1001,
        3,
        1,
        0,
    )
    [clip] = versions_of(admin, b["id"])
    assert (clip["frame_count"], clip["handle_in"]) == (12, 1)  # 0.5 s at 24: probed


def versions_of(client: Any, shot_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/shots/{shot_id}/versions")
    assert response.status_code == 200, response.text
    return response.json()["items"]
