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
