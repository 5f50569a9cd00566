"""Conform and delivery masters for real: a small edit (four shots with handles and different cut ranges,
reference sound on one shot and temp sound on another) is conformed and mastered by a real agent process
running ffmpeg, and every file is read back with PyAV: which frame each picture is (the bar code every test
movie frame carries), the sound tracks and where their sound sits, and each master's codec, profile,
colour tags, frame count and sound."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import imageio_ffmpeg
import numpy as np
import pytest

from tests.support.api import Api, assert_problem
from tests.support.cli import aipipe, api_key, cli_env
from tests.support.framecode import coded_movie, frames_of, read_code

FPS = 24
SIZE = (320, 180)
# (cut length, head handle, tail handle, first bar code of its approved movie)
SHOTS = [(20, 4, 4, 1000), (24, 8, 2, 2000), (12, 0, 0, 3000), (16, 6, 6, 3500)]
TEMP_HANDLE = 8  # the temp sound starts 8 frames (1/3 s) before the cut, like its picture


def _publish(
    client: httpx.Client, shot_id: str, stage: str, path: Path, mime: str, **fields: int
) -> dict[str, Any]:
    data = {"stage": stage, **{k: str(v) for k, v in fields.items()}}
    response = client.post(
        f"/api/shots/{shot_id}/versions", data=data, files=[("files", (path.name, path.read_bytes(), mime))]
    )
    assert response.status_code == 201, response.text
    return response.json()


def _approve(client: httpx.Client, version_id: str) -> None:
    response = client.post(f"/api/versions/{version_id}/reviews", json={"verdict": "approve"})
    assert response.status_code == 201, response.text


def _tone(path: Path, seconds: float, hz: int) -> Path:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
         f"sine=frequency={hz}:duration={seconds}:sample_rate=48000", "-ac", "2", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _movie(
    api: Api, tmp: Path, shot: dict[str, Any], cut: int, head: int, tail: int, first: int
) -> dict[str, Any]:
    movie = coded_movie(tmp / f"{shot['code']}_{first}.mp4", first, head + cut + tail, str(FPS), SIZE)
    version = _publish(api.admin, shot["id"], "render", movie, "video/mp4", handle_in=head, handle_out=tail)
    assert (version["frame_count"], version["handle_in"]) == (head + cut + tail, head)
    _approve(api.admin, version["id"])
    return version


def _edit(api: Api, tmp: Path) -> dict[str, Any]:
    project = api.project(fps=str(FPS), width=SIZE[0], height=SIZE[1], handle_in=10)  # 10: never assumed
    scene = api.scene(project["id"])
    shots = [api.shot(project["id"], scene["id"], duration_frames=cut) for cut, *_ in SHOTS]
    for shot, (cut, head, tail, first) in zip(shots, SHOTS, strict=True):
        _movie(api, tmp, shot, cut, head, tail, first)
    # A newer render of the third shot that nobody approved: the conform keeps the approved one.
    newer = coded_movie(tmp / "unapproved.mp4", 3900, 12, str(FPS), SIZE)
    _publish(api.admin, shots[2]["id"], "render", newer, "video/mp4")
    _publish(api.admin, shots[0]["id"], "reference", _tone(tmp / "ref.wav", 2.0, 440), "audio/wav")
    temp = _tone(tmp / "temp.wav", 3.0, 880)
    _publish(api.admin, shots[1]["id"], "audio", temp, "audio/wav", handle_in=TEMP_HANDLE)
    return {"project": project, "shots": shots}


def _expected_codes() -> list[int]:
    return [first + head + i for cut, head, _, first in SHOTS for i in range(cut)]


@contextlib.contextmanager
def _agent(api: Api, work: Path) -> Iterator[None]:
    key = api.admin.post("/api/api-keys", json={"name": f"delivery-{work.name}", "role": "agent"}).json()[
        "key"
    ]
    env = {**os.environ, "AIPIPE_AGENT_API_KEY": key, "AIPIPE_AGENT_WORK_DIR": str(work)}
    name = f"post-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "render_agent", "--server", api.base_url, "--name", name]
    work.mkdir(parents=True, exist_ok=True)
    with (work / f"{name}.log").open("wb") as log:  # a file, not a pipe nobody reads: it never fills up
        process = subprocess.Popen(
            [*command, "--job-types", "conform,master"], env=env, stdout=log, stderr=log
        )
        try:
            yield
        finally:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def _finished(api: Api, delivery_id: str, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    seen: list[float] = []
    while time.monotonic() < deadline:
        delivery = api.admin.get(f"/api/deliveries/{delivery_id}").json()
        seen.append(delivery["progress"])
        if delivery["status"] in ("succeeded", "failed"):
            assert delivery["status"] == "succeeded", delivery["error"]
            assert seen == sorted(seen), f"progress went back: {seen}"
            return delivery
        time.sleep(0.3)
    raise AssertionError(f"delivery {delivery_id} did not finish in {timeout_s} s: {delivery}")


def _download(api: Api, file: dict[str, Any], tmp: Path) -> Path:
    response = api.admin.get(file["url"])
    assert response.status_code == 200, response.text
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / file["name"]
    path.write_bytes(response.content)
    return path


def _sound(path: Path, track: int) -> np.ndarray:
    """A sound track decoded to mono float samples at 48 kHz."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[track]
        chunks = [frame.to_ndarray().astype(np.float64).reshape(-1) for frame in container.decode(stream)]
    samples = np.concatenate(chunks) / 32768.0
    return samples[::2] if stream.codec_context.channels == 2 else samples


def _loudness(samples: np.ndarray, start_frame: int, frames: int) -> float:
    a, b = start_frame * 48000 // FPS, (start_frame + frames) * 48000 // FPS
    part = samples[a + 480 : b - 480]  # 10 ms in from each cut
    return float(np.sqrt(np.mean(part**2))) if len(part) else 0.0


@pytest.mark.timeout(400)
def test_a_conform_and_its_masters_have_the_right_frames_in_order_with_sound(
    api: Api, tmp_path: Path
) -> None:
    made = _edit(api, tmp_path)
    project, shots = made["project"], made["shots"]
    length = sum(cut for cut, *_ in SHOTS)

    bad = api.admin.post(
        f"/api/projects/{project['id']}/deliveries", json={"formats": ["h264"], "audio_codec": "pcm"}
    )
    assert_problem(bad, 422, "audio_codec")
    started = api.admin.post(
        f"/api/projects/{project['id']}/deliveries", json={"formats": ["prores_hq", "h264", "h265"]}
    )
    assert started.status_code == 201, started.text
    delivery = started.json()
    assert delivery["number"] == 1 and delivery["path"].endswith("/delivery/v001")
    assert delivery["frames"] == length and delivery["status"] == "queued"
    assert [p["source_in"] for p in delivery["plan"]] == [head for _, head, _, _ in SHOTS]
    assert (
        delivery["plan"][0]["reference"] == "reference v001" and delivery["plan"][1]["temp"] == "audio v001"
    )

    with _agent(api, tmp_path / "agent"):
        delivery = _finished(api, delivery["id"])

    conform = _download(api, delivery["conform"], tmp_path)
    assert delivery["conform"]["encoded"] == len(SHOTS) and delivery["conform"]["reused"] == 0
    assert [read_code(frame) for frame in frames_of(conform)] == _expected_codes()
    with av.open(str(conform)) as container:
        assert [s.codec_context.name for s in container.streams.audio] == ["pcm_s16le", "pcm_s16le"]
        for stream in container.streams.audio:
            assert abs(float(stream.duration * stream.time_base) - length / FPS) < 1 / 48000 * 2
    reference, temp = _sound(conform, 0), _sound(conform, 1)
    starts = np.cumsum([0] + [cut for cut, *_ in SHOTS])
    # The reference sound is under the first shot only; the temp sound under the second only.
    assert _loudness(reference, starts[0], SHOTS[0][0]) > 0.03
    assert all(_loudness(reference, starts[i], SHOTS[i][0]) < 0.001 for i in (1, 2, 3))
    assert _loudness(temp, starts[1], SHOTS[1][0]) > 0.03
    assert all(_loudness(temp, starts[i], SHOTS[i][0]) < 0.001 for i in (0, 2, 3))

    masters = {m["format"]: m for m in delivery["masters"]}
    assert set(masters) == {"prores_hq", "h264", "h265"}
    expected = {
        "prores_hq": ("prores", ".mov", "yuv422p10le"),
        "h264": ("h264", ".mp4", "yuv420p"),
        "h265": ("hevc", ".mp4", "yuv420p"),
    }
    for fmt, (codec, ext, pix_fmt) in expected.items():
        master = masters[fmt]
        assert master["status"] == "succeeded" and master["file"]["name"].endswith(ext)
        path = _download(api, master["file"], tmp_path)
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            cc = video.codec_context
            assert (cc.name, cc.pix_fmt, cc.width, cc.height) == (codec, pix_fmt, *SIZE)
            assert (int(cc.color_primaries), int(cc.color_trc), int(cc.colorspace), int(cc.color_range)) == (
                1, 1, 1, 1
            )  # bt709, limited range  # fmt: skip
            assert video.average_rate == FPS and video.frames == length
            if fmt == "prores_hq":
                assert cc.profile == "HQ"
            assert [a.codec_context.name for a in container.streams.audio] == ["aac"]
        assert [read_code(frame) for frame in frames_of(path)][::7] == _expected_codes()[::7]
    listed = api.admin.get(f"/api/projects/{project['id']}/deliveries").json()
    assert [d["id"] for d in listed] == [delivery["id"]] and listed[0]["status"] == "succeeded"

    # One shot changes: the next conform encodes that shot's segment only and joins the three others.
    cut, head, tail, _ = SHOTS[1]
    _movie(api, tmp_path, shots[1], cut, head, tail, 2500)
    again = api.admin.post(f"/api/projects/{project['id']}/conform", json={})
    assert again.status_code == 201, again.text
    with _agent(api, tmp_path / "agent"):  # the same agent host: its segment cache
        again = _finished(api, again.json()["id"])
    assert again["number"] == 2 and again["masters"] == []
    assert (again["conform"]["encoded"], again["conform"]["reused"]) == (1, 3)
    codes = [read_code(frame) for frame in frames_of(_download(api, again["conform"], tmp_path / "v2"))]
    expected_codes = _expected_codes()
    expected_codes[SHOTS[0][0] : SHOTS[0][0] + cut] = [2500 + head + i for i in range(cut)]
    assert codes == expected_codes

    # Masters of the changed edit on the same agent host: its sound did not change, so the AAC encoded for
    # the first delivery's H.264 master is copied, not encoded again; the ProRes master encodes the changed
    # shot's piece only and joins the first delivery's three others; each master is what was asked.
    third = api.admin.post(
        f"/api/projects/{project['id']}/deliveries", json={"formats": ["h264", "prores_hq"]}
    )
    assert third.status_code == 201, third.text
    with _agent(api, tmp_path / "agent"):
        third = _finished(api, third.json()["id"])
    masters_now = {m["format"]: m for m in third["masters"]}
    prores = masters_now["prores_hq"]
    provenance = api.admin.get(f"/api/farm/jobs/{prores['job_id']}").json()["result"]["provenance"]
    assert provenance["pieces"] == {"encoded": 1, "reused": 3}, provenance
    assert prores["status"] == "succeeded"
    assert (prores["encoded"], prores["reused"], prores["copied_picture"]) == (1, 3, False)
    assert (masters["prores_hq"]["encoded"], masters["prores_hq"]["reused"]) == (4, 0)  # the first delivery
    assert masters_now["h264"]["copied_picture"] and masters_now["h264"]["reused_sound"]
    env = cli_env(tmp_path / "config", api.base_url, api_key(api, "editor"))
    shown = aipipe("deliver", "show", third["id"], env=env)
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: line for line in shown.stdout.splitlines() if line.startswith("  ")}
    assert lines["prores_hq"].endswith("(1 of 4 shots encoded; sound reused)"), shown.stdout
    assert lines["h264"].endswith("(picture copied; sound reused)"), shown.stdout
    path = _download(api, prores["file"], tmp_path / "v3p")
    assert [read_code(frame) for frame in frames_of(path)] == expected_codes
    master = masters_now["h264"]
    provenance = api.admin.get(f"/api/farm/jobs/{master['job_id']}").json()["result"]["provenance"]
    assert provenance["reused_sound"] is True, provenance
    path = _download(api, master["file"], tmp_path / "v3")
    assert [read_code(frame) for frame in frames_of(path)] == expected_codes
    first = _download(api, masters["h264"]["file"], tmp_path / "v1")
    assert np.array_equal(_sound(path, 0), _sound(first, 0))  # the same sound, to the sample


@pytest.mark.timeout(300)
def test_masters_with_slate_burn_ins_full_range_and_pcm_sound(api: Api, tmp_path: Path) -> None:
    made = _edit(api, tmp_path)
    project = made["project"]
    length = sum(cut for cut, *_ in SHOTS)
    url = f"/api/projects/{project['id']}/deliveries"
    prores_full = api.admin.post(url, json={"formats": ["prores_hq", "h264"], "range": "full"})
    assert "ProRes" in assert_problem(prores_full, 422, "range")["detail"]
    slated = api.admin.post(
        url,
        json={
            "formats": ["h264"],
            "range": "full",
            "slate": True,
            "slate_seconds": 1,
            "burn_ins": ["shot", "timecode", "frame"],
        },
    )
    assert slated.status_code == 201, slated.text
    pcm = api.admin.post(url, json={"formats": ["prores_hq"], "audio_codec": "pcm"})
    assert pcm.status_code == 201, pcm.text
    assert (slated.json()["number"], pcm.json()["number"]) == (1, 2)
    with _agent(api, tmp_path / "agent"):
        slated, pcm = _finished(api, slated.json()["id"]), _finished(api, pcm.json()["id"])

    master = slated["masters"][0]
    assert master["probe"]["frames"] == length + FPS and master["probe"]["color_range"] == "full"
    path = _download(api, master["file"], tmp_path)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.frames == length + FPS and video.codec_context.name == "h264"
        assert int(video.codec_context.color_range) == 2  # full
        assert [a.codec_context.name for a in container.streams.audio] == ["aac"]
        sound = container.streams.audio[0]
        assert abs(float(sound.duration * sound.time_base) - (length + FPS) / FPS) < 0.1
    frames = frames_of(path)
    assert float(frames[0].mean()) < 40  # the slate: a dark card with white text
    assert read_code(frames[FPS]) == _expected_codes()[0]  # the edit starts after the slate
    plain = frames_of(_download(api, slated["conform"], tmp_path))[0]
    burnt = np.abs(frames[FPS].astype(int) - plain.astype(int))
    assert (
        burnt[-16:].mean() > 4 * burnt[:60].mean()
    )  # shot code and timecode at the foot, not over the picture

    master = pcm["masters"][0]
    path = _download(api, master["file"], tmp_path)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.codec_context.profile) == ("prores", "HQ")
        assert video.codec_context.pix_fmt == "yuv422p10le" and video.frames == length
        assert [a.codec_context.name for a in container.streams.audio] == ["pcm_s24le"]


def test_a_shot_without_approved_media_or_too_short_is_refused_naming_it(api: Api, tmp_path: Path) -> None:
    project = api.project(fps=str(FPS), width=SIZE[0], height=SIZE[1])
    scene = api.scene(project["id"])
    fine, missing, short = (api.shot(project["id"], scene["id"], duration_frames=12) for _ in range(3))
    _movie(api, tmp_path, fine, 12, 0, 0, 100)
    unapproved = coded_movie(tmp_path / "unapproved.mp4", 200, 12, str(FPS), SIZE)
    _publish(api.admin, missing["id"], "render", unapproved, "video/mp4")  # never approved
    too_short = coded_movie(tmp_path / "short.mp4", 300, 10, str(FPS), SIZE)
    version = _publish(api.admin, short["id"], "render", too_short, "video/mp4", handle_in=2)
    _approve(api.admin, version["id"])

    refused = api.admin.post(f"/api/projects/{project['id']}/deliveries", json={"formats": ["h264"]})
    body = assert_problem(refused, 422)
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert set(fields) == {f"shots.{missing['code']}", f"shots.{short['code']}"}
    assert "no approved movie" in fields[f"shots.{missing['code']}"]
    assert "holds 10 frames" in fields[f"shots.{short['code']}"]
    assert missing["code"] in body["detail"] and short["code"] in body["detail"]
    assert api.admin.get(f"/api/projects/{project['id']}/deliveries").json() == []  # nothing queued
    assert_problem(api.admin.post(f"/api/projects/{project['id']}/conform", json={}), 422)


@pytest.mark.timeout(300)  # a conform another test's gone agent took ends only when its lease expires
def test_the_cli_queues_a_conform_lists_it_and_names_a_shot_it_cannot_conform(
    api: Api, tmp_path: Path
) -> None:
    project = api.project(fps=str(FPS), width=SIZE[0], height=SIZE[1])
    scene = api.scene(project["id"])
    shot = api.shot(project["id"], scene["id"], duration_frames=12)
    env = cli_env(tmp_path / "config", api.base_url, api_key(api, "editor"))

    refused = aipipe("deliver", "masters", project["code"], "--format", "h264", env=env)
    assert refused.returncode != 0 and shot["code"] in refused.stderr

    _movie(api, tmp_path, shot, 12, 2, 2, 500)
    queued = aipipe("deliver", "conform", project["code"], "--no-wait", "--json", env=env)
    assert queued.returncode == 0, queued.stderr
    delivery = json.loads(queued.stdout)
    assert (delivery["number"], delivery["status"], delivery["frames"]) == (1, "queued", 12)
    listed = aipipe("deliver", "list", project["code"], env=env)
    # queued, or already running where another test's agent on this server took the CPU job
    assert listed.returncode == 0 and "Delivery v001" in listed.stdout, listed.stdout
    assert "queued" in listed.stdout or "running" in listed.stdout, listed.stdout
    cancelled = api.admin.post(f"/api/farm/jobs/{delivery['conform_job_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    # A queued job ends at once; one another test's agent took ends when that agent hears of the cancel,
    # or, if that agent is gone, when its lease expires (60 s + the sweep): it must end cancelled then too.
    deadline = time.monotonic() + 120
    while True:
        shown = aipipe("deliver", "show", delivery["id"], "--json", env=env)
        if shown.returncode == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert shown.returncode == 1 and json.loads(shown.stdout)["status"] == "failed", (
        shown.stdout
    )  # its conform was cancelled
