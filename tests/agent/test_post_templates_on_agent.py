"""RIFE and ESRGAN on a real H.264 clip with sound, run by a real `aipipe-agent` process against the farm's
test double and the ComfyUI stand-in (with the ComfyUI-Frame-Interpolation pack): the outputs have the
frames, rate, size and sound the sidecars promise (read back with PyAV; RIFE's fps set by the agent from the
source's), the agent's measurements are in the provenance, and an output with the wrong frame count and fps
fails the job (kind `node`) saying expected and got.
An agent whose ComfyUI is older than a template's minimum refuses the job, naming both versions."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import imageio_ffmpeg

from aipipe_shared.workflows import bind, load_template
from tests.agent.fake_farm import FarmServer, running_farm
from tests.comfyui_standin.catalogue import LTX2_CLASSES
from tests.comfyui_standin.fixtures import running_standin, write_probe_image

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
FINISHED = ("succeeded", "failed")


def clip_with_sound(path: Path, frames: int = 12, fps: int = 24, *, sound: bool = True) -> bytes:
    """A real H.264 (+ AAC) mp4 made by ffmpeg: the test pattern (64x48) and a 440 Hz tone."""
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"] if sound else []
    audio = ["-c:a", "aac", "-t", f"{frames / fps}"] if sound else []
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error"]
        + ["-f", "lavfi", "-i", f"testsrc2=size=64x48:rate={fps}", *tone]
        + ["-frames:v", str(frames), "-c:v", "libx264", "-pix_fmt", "yuv420p", *audio, str(path)],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


def probe(data: bytes) -> dict[str, Any]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        size = (stream.codec_context.width, stream.codec_context.height)
        return {
            "frames": frames,
            "fps": stream.average_rate,
            "size": size,
            "audio": len(container.streams.audio),
        }


def video_job(
    farm: FarmServer, job_type: str, name: str, params: dict[str, Any], clip: bytes
) -> tuple[str, Any]:
    url, sha = farm.farm.add_file("shot_render.mp4", clip)
    graph = bind(load_template(WORKFLOWS / f"{name}.json"), {"video": "shot_render.mp4", **params})
    inputs = [
        {"role": "video", "name": "shot_render.mp4", "url": url, "sha256": sha, "targets": [["1", "file"]]}
    ]
    return farm.farm.enqueue(job_type, graph=graph, params=params, inputs=inputs), graph


def run_agent(farm: FarmServer, comfy_url: str, work: Path, job_ids: list[str], job_types: str) -> str:
    """A real agent process until every job has finished; returns its output."""
    env = {
        **os.environ,
        "AIPIPE_AGENT_API_KEY": farm.farm.api_key,
        "AIPIPE_AGENT_WORK_DIR": str(work),
        "AIPIPE_AGENT_CLAIM_WAIT_S": "0.5",
        "AIPIPE_AGENT_HEARTBEAT_S": "0.5",
    }
    command = [sys.executable, "-m", "render_agent", "--server", farm.url, "--comfyui", comfy_url]
    command += ["--name", "post-agent", "--job-types", job_types]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while any(farm.farm.jobs[j].status not in FINISHED for j in job_ids):
            if time.monotonic() > deadline or process.poll() is not None:
                break
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    unfinished = [j for j in job_ids if farm.farm.jobs[j].status not in FINISHED]
    assert not unfinished, f"jobs {unfinished} did not finish; agent output:\n{output}"
    return output


def test_rife_and_esrgan_make_the_promised_video_and_a_wrong_frame_count_fails_the_job(
    tmp_path: Path,
) -> None:
    clip = clip_with_sound(tmp_path / "clip.mp4")
    assert probe(clip) == {"frames": 12, "fps": 24, "size": (64, 48), "audio": 1}
    models = ["rife47.pth", "RealESRGAN_x2.pth"]
    with (
        running_farm() as farm,
        running_standin(tmp_path / "comfy", extra_nodes=["RIFE VFI"], models=models) as comfy,
    ):
        rife, _ = video_job(farm, "interpolate", "rife_interpolate_2x", {"factor": 2}, clip)  # fps: derived
        esrgan, _ = video_job(farm, "upscale", "esrgan_upscale_video", {}, clip)
        wrong, graph = video_job(farm, "interpolate", "rife_interpolate_2x", {"factor": 2, "fps": 30}, clip)
        graph["3"]["inputs"]["multiplier"] = 3  # the graph makes 3x while its sidecar promises 2x
        output = run_agent(farm, comfy.url, tmp_path / "work", [rife, esrgan, wrong], "interpolate,upscale")
        jobs = farm.farm.jobs

        assert jobs[rife].status == "succeeded", f"{jobs[rife].error}\n{output}"
        [(name, (_, data))] = jobs[rife].outputs.items()
        assert name.endswith(".mp4")
        # RIFE VFI: (12-1)*2+1 frames at twice the rate, the same size, the sound kept
        assert probe(data) == {"frames": 23, "fps": 48, "size": (64, 48), "audio": 1}
        provenance = jobs[rife].result["provenance"]  # type: ignore[index]
        assert provenance["derived"] == {"fps": 48.0}  # the source's 24 fps x 2, set by the agent
        checked = provenance["output_check"]
        assert checked["input"] == {"frames": 12, "fps": 24.0, "width": 64, "height": 48}
        assert checked["outputs"] == [{"file": name, "frames": 23, "fps": 48.0, "width": 64, "height": 48}]

        assert jobs[esrgan].status == "succeeded", f"{jobs[esrgan].error}\n{output}"
        [(_, (_, data))] = jobs[esrgan].outputs.items()
        assert probe(data) == {"frames": 12, "fps": 24, "size": (128, 96), "audio": 1}

        failed = jobs[wrong]
        assert failed.status == "failed" and failed.outputs == {}
        assert failed.error is not None and failed.error["kind"] == "node" and failed.error["retryable"]
        assert "output check: output " in failed.error["error"]
        assert (
            "of workflow 'rife_interpolate_2x': expected 23 frames, got 34; expected 48.000 fps, got 30.000"
        ) in failed.error["error"]
        assert "(input video: 12 frames at 24.000 fps, 64x48)" in failed.error["error"]


def test_an_agent_whose_comfyui_is_too_old_refuses_the_job_naming_the_versions(tmp_path: Path) -> None:
    """The catalogue has LTX-2's classes (a backport, say), but ComfyUI says 0.3.64: refused before it runs,
    as a failure of this agent (retryable: another agent's ComfyUI may be new enough)."""
    first = write_probe_image(tmp_path / "first.png", (64, 64)).read_bytes()
    with running_farm() as farm, running_standin(tmp_path / "comfy", extra_nodes=LTX2_CLASSES) as comfy:
        url, sha = farm.farm.add_file("first.png", first)
        graph = bind(load_template(WORKFLOWS / "ltx2_i2v.json"), {"image": "first.png"})
        inputs = [
            {"role": "image", "name": "first.png", "url": url, "sha256": sha, "targets": [["10", "image"]]}
        ]
        job = farm.farm.enqueue("i2v", graph=graph, inputs=inputs)
        output = run_agent(farm, comfy.url, tmp_path / "work", [job], "i2v")

        error = farm.farm.jobs[job].error
        assert error is not None, output
        assert error["error"] == "workflow 'ltx2_i2v' needs ComfyUI >= 0.8.0; this agent's ComfyUI is 0.3.64"
        assert error["kind"] == "agent" and error["retryable"]
        assert comfy.comfy.requested("POST", "/prompt") == 0


def test_rife_on_a_single_frame_fails_like_the_node(tmp_path: Path) -> None:
    clip = clip_with_sound(tmp_path / "one.mp4", frames=1, sound=False)
    with running_farm() as farm, running_standin(tmp_path / "comfy", extra_nodes=["RIFE VFI"]) as comfy:
        job, _ = video_job(farm, "interpolate", "rife_interpolate_2x", {"factor": 2, "fps": 48}, clip)
        output = run_agent(farm, comfy.url, tmp_path / "work", [job], "interpolate")
        error = farm.farm.jobs[job].error
        assert error is not None and error["kind"] == "node", output
        assert "RIFE requires at least 2 frames" in error["error"]
