"""The layout on the farm (issue 15), for real: the first frame's depth made by a real agent process through
the ComfyUI stand-in and published as a `control` version; a render that follows the approved layout depth
video (its frame count and rate checked against the workflow at submit), run by a real agent, published
with the layout it followed. Refusals over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from sync_server.db.models import Job
from tests.comfyui_standin.fixtures import running_standin
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.agent import run_agent_until_done
from tests.support.api import Api, assert_problem, login
from tests.support.pictures import depth_sweep_mp4

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
RENDER = "wan22_14b_fun_control"
SIZE = (128, 80)  # the render's size: small, a multiple of 16


def first_frame_png() -> bytes:
    """A picture whose lower half is busier (the stand-in's Lotus shades its depth by luminance)."""
    width, height = SIZE
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(60, 200, height)[:, None].repeat(width, 1)
    buffer = io.BytesIO()
    Image.fromarray(np.stack([x, y, np.full_like(x, 90)], axis=2).astype(np.uint8), "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def depth_clip(frames: int, fps: int) -> bytes:
    return depth_sweep_mp4(frames, fps, (96, 64))


def publish(
    client: httpx.Client, shot_id: str, stage: str, name: str, data: bytes, mime: str, **provenance: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/shots/{shot_id}/versions",
        data={"stage": stage, "provenance": json.dumps(provenance)},
        files={"files": (name, data, mime)},
    )
    assert response.status_code == 201, response.text
    return response.json()


def approve(client: httpx.Client, version_id: str) -> None:
    answer = client.post(f"/api/versions/{version_id}/reviews", json={"verdict": "approve"})
    assert answer.status_code in (200, 201), answer.text


def shot_with_layout(admin: httpx.Client, project_id: str, scene_id: str) -> dict[str, Any]:
    """A 1 s shot at 24 fps (the 16 fps render needs 17 frames), its approved first frame, a layout
    version and the layout playblast's depth video (17 frames at 16 fps), approved."""
    shot = admin.post(
        f"/api/projects/{project_id}/shots",
        json={"scene_id": scene_id, "duration_frames": 24, "action": "Rina walks to the door"},
    ).json()
    frame = publish(admin, shot["id"], "previz", "frame.png", first_frame_png(), "image/png")
    approve(admin, frame["id"])
    layout = publish(admin, shot["id"], "layout", "layout.json", b'{"camera": "cam"}', "application/json")
    depth = publish(
        admin,
        shot["id"],
        "playblast",
        "depth.mp4",
        depth_clip(17, 16),
        "video/mp4",
        control_kind="depth",
        layout_version_id=layout["id"],
    )
    approve(admin, depth["id"])
    return {"shot": shot, "frame": frame, "layout": layout, "depth": depth}


def no_vram_copies(folder: Path, names: tuple[str, ...]) -> list[str]:
    """The templates as `cpu_<name>` asking for no VRAM (the agent here has no GPU), graphs unchanged;
    returns the model files they load."""
    folder.mkdir(parents=True)
    models: set[str] = set()
    for name in names:
        shutil.copy(WORKFLOWS / f"{name}.json", folder / f"cpu_{name}.json")
        meta = json.loads((WORKFLOWS / f"{name}.meta.json").read_text(encoding="utf-8"))
        meta["min_vram_gb"] = 0
        (folder / f"cpu_{name}.meta.json").write_text(json.dumps(meta), encoding="utf-8")
        models.update(meta["models"])
    return sorted(models)


def test_depth_and_a_layout_driven_render_run_on_an_agent_and_land_as_versions(tmp_path) -> None:
    models = no_vram_copies(tmp_path / "workflows", ("lotus_depth", RENDER))
    env = {"AIPIPE_WORKFLOW_DIRS": json.dumps([str(tmp_path / "workflows")])}
    server, password = start_server_with_admin(tmp_path / "server", None, env)
    try:
        admin = login(server.url, ADMIN, password)
        project = admin.post(
            "/api/projects",
            json={"code": "LAY", "name": "레이아웃", "fps": "24", "width": 1280, "height": 800},
        ).json()
        scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
        made = shot_with_layout(admin, project["id"], scene["id"])
        shot = made["shot"]

        depth_job = admin.post(f"/api/shots/{shot['id']}/depth", json={"workflow": "cpu_lotus_depth"})
        assert depth_job.status_code == 201, depth_job.text
        assert depth_job.json()["type"] == "depth" and depth_job.json()["output_stage"] == "control"
        render = admin.post(
            f"/api/shots/{shot['id']}/render",
            json={
                "workflow": f"cpu_{RENDER}",
                "layout_control": {},
                "params": {"width": SIZE[0], "height": SIZE[1]},
            },
        )
        assert render.status_code == 201, render.text
        render = render.json()
        assert render["params"]["length"] == 17
        [control] = [
            i
            for i in render_inputs(f"sqlite:///{tmp_path / 'server' / 'aipipe.db'}", render["id"])
            if i["role"] == "control_video"
        ]
        assert control["version_id"] == made["depth"]["id"]

        key = admin.post("/api/api-keys", json={"name": "layout-agent", "role": "agent"}).json()["key"]
        with running_standin(tmp_path / "comfy", models=models) as comfy:
            args = ["--comfyui", comfy.url, "--name", "layout-gpu", "--job-types", "depth,i2v"]
            state, output = run_agent_until_done(
                admin, server.url, key, tmp_path / "work", depth_job.json()["id"], args, timeout_s=90
            )
            assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"
            depth = admin.get(f"/api/versions/{state['version_id']}").json()
            state, output = run_agent_until_done(
                admin, server.url, key, tmp_path / "work", render["id"], args, timeout_s=120
            )
            assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"
            result = admin.get(f"/api/versions/{state['version_id']}").json()

        # The depth image: a control version of the shot, saying what it is and what it came from.
        assert depth["stage"] == "control" and depth["shot_id"] == shot["id"]
        assert depth["provenance"]["control_kind"] == "depth"
        assert depth["provenance"]["source_version_id"] == made["frame"]["id"]
        assert depth["provenance"]["workflow"] == "cpu_lotus_depth"
        [png] = depth["files"]
        picture = Image.open(io.BytesIO(admin.get(png["url"]).content)).convert("L")
        values = np.asarray(picture, dtype=np.float64)
        assert picture.size == SIZE and values[-8:].mean() > values[:8].mean() + 100  # near (bottom) is white

        # The render: it names the layout it followed and has the workflow's frames at its rate.
        assert result["stage"] == "render"
        assert result["provenance"]["layout_version_id"] == made["layout"]["id"]
        followed = result["provenance"]["layout_control"]
        assert followed["version_id"] == made["depth"]["id"] and followed["frames_used"] == 17
        assert made["depth"]["id"] in result["provenance"]["input_version_ids"]
        movie = next(f for f in result["files"] if f["name"].endswith(".mp4"))
        with av.open(io.BytesIO(admin.get(movie["url"]).content)) as container:
            stream = container.streams.video[0]
            frames = [f.to_ndarray(format="gray").astype(np.float64) for f in container.decode(stream)]
            assert stream.average_rate == 16
        assert len(frames) == 17 and frames[0].shape == (SIZE[1], SIZE[0])
        # The layout's bar moves left to right, and so does the render's brightest column.
        assert int(np.argmax(frames[0].mean(axis=0))) < SIZE[0] // 3
        assert int(np.argmax(frames[-1].mean(axis=0))) > SIZE[0] // 2
    finally:
        server.stop()


def render_inputs(url: str, job_id: str) -> list[dict[str, Any]]:
    """The job's inputs as the database holds them (the job's JSON does not show them)."""
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            job = session.get(Job, uuid.UUID(job_id))
            assert job is not None
            return list(job.inputs)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def layout_shot(api: Api) -> dict[str, Any]:
    project = api.project(width=1280, height=800, fps="24")
    scene = api.scene(project["id"])
    return {**shot_with_layout(api.admin, project["id"], scene["id"]), "project": project, "scene": scene}


def _render(api: Api, shot_id: str, **body: Any) -> httpx.Response:
    return api.admin.post(
        f"/api/shots/{shot_id}/render",
        json={"workflow": RENDER, "params": {"width": SIZE[0], "height": SIZE[1]}, **body},
    )


def test_a_layout_video_at_another_rate_or_too_short_is_refused_naming_it(api: Api, layout_shot) -> None:
    shot = layout_shot["shot"]
    fast = publish(
        api.admin, shot["id"], "control", "d24.mp4", depth_clip(25, 24), "video/mp4", control_kind="depth"
    )
    body = assert_problem(
        _render(api, shot["id"], layout_control={"version_id": fast["id"]}), 422, "layout_control.version_id"
    )
    assert body["needed_fps"] == 16 and body["video_fps"] == 24 and "16 fps" in body["detail"]
    short = publish(
        api.admin, shot["id"], "control", "d9.mp4", depth_clip(9, 16), "video/mp4", control_kind="depth"
    )
    body = assert_problem(
        _render(api, shot["id"], layout_control={"version_id": short["id"]}), 422, "layout_control.version_id"
    )
    assert body["needed_frames"] == 17 and body["video_frames"] == 9
    # Not a depth video, not of this shot's layout stages, not a video at all.
    lines = publish(
        api.admin, shot["id"], "control", "l.mp4", depth_clip(17, 16), "video/mp4", control_kind="canny"
    )
    assert_problem(
        _render(api, shot["id"], layout_control={"version_id": lines["id"]}), 422, "layout_control.version_id"
    )
    assert_problem(
        _render(api, shot["id"], layout_control={"version_id": layout_shot["frame"]["id"]}),
        422,
        "layout_control.version_id",
    )
    # A control workflow without a layout, a layout for a workflow that takes none.
    assert_problem(_render(api, shot["id"]), 422, "layout_control")
    still = api.admin.post(
        f"/api/shots/{shot['id']}/render", json={"workflow": "cpu_test_still_video", "layout_control": {}}
    )
    assert_problem(still, 422, "layout_control")
    # The approved layout video is the default, and it fits.
    ok = _render(api, shot["id"], layout_control={})
    assert ok.status_code == 201, ok.text


def test_a_shot_without_an_approved_layout_video_is_told_what_to_do(api: Api, layout_shot) -> None:
    project, scene = layout_shot["project"], layout_shot["scene"]
    bare = api.shot(project["id"], scene["id"], duration_frames=24)
    frame = publish(api.admin, bare["id"], "previz", "f.png", first_frame_png(), "image/png")
    approve(api.admin, frame["id"])
    unreviewed = publish(
        api.admin, bare["id"], "playblast", "d.mp4", depth_clip(17, 16), "video/mp4", control_kind="depth"
    )
    body = assert_problem(_render(api, bare["id"], layout_control={}), 422, "layout_control.version_id")
    assert "approve" in body["detail"]
    # Named explicitly, an unreviewed one is used.
    assert _render(api, bare["id"], layout_control={"version_id": unreviewed["id"]}).status_code == 201
    # Approving the layout it shows makes it the default (the add-on uploads the depth video as a control
    # version naming the layout; the layout is what gets reviewed).
    layout = publish(api.admin, bare["id"], "layout", "l.json", b"{}", "application/json")
    shown = publish(
        api.admin,
        bare["id"],
        "control",
        "d2.mp4",
        depth_clip(17, 16),
        "video/mp4",
        control_kind="depth",
        layout_version_id=layout["id"],
    )
    assert_problem(_render(api, bare["id"], layout_control={}), 422, "layout_control.version_id")
    approve(api.admin, layout["id"])
    job = _render(api, bare["id"], layout_control={})
    assert job.status_code == 201, job.text
    [control] = [
        i for i in render_inputs(api.sqlalchemy_url, job.json()["id"]) if i["role"] == "control_video"
    ]
    assert control["version_id"] == shown["id"]


def test_a_depth_job_needs_a_picture_and_a_depth_workflow(api: Api, layout_shot) -> None:
    project, scene = layout_shot["project"], layout_shot["scene"]
    bare = api.shot(project["id"], scene["id"])
    assert_problem(api.admin.post(f"/api/shots/{bare['id']}/depth", json={}), 409, "source_version_id")
    shot = layout_shot["shot"]
    assert_problem(
        api.admin.post(f"/api/shots/{shot['id']}/depth", json={"workflow": "flux1_dev_t2i"}), 422, "workflow"
    )
    assert_problem(
        api.admin.post(f"/api/shots/{shot['id']}/depth", json={"workflow": "no_such_flow"}), 404, "workflow"
    )
    assert_problem(
        api.admin.post(
            f"/api/shots/{shot['id']}/depth", json={"source_version_id": layout_shot["layout"]["id"]}
        ),
        422,
        "source_version_id",
    )
    other = api.admin.post(
        f"/api/shots/{bare['id']}/depth", json={"source_version_id": layout_shot["frame"]["id"]}
    )
    assert_problem(other, 422, "source_version_id")
    # Any picture of the shot can be the source; the job records it for the published depth.
    job = api.admin.post(
        f"/api/shots/{shot['id']}/depth", json={"source_version_id": layout_shot["frame"]["id"]}
    )
    assert job.status_code == 201, job.text
    assert job.json()["type"] == "depth" and job.json()["workflow"] == "lotus_depth"
    assert job.json()["output_stage"] == "control"
