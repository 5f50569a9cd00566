"""Send to render against a real server: workflow list, job with priority, progress, loading the result."""

from __future__ import annotations

import av
import bpy
import numpy as np

from tests.blender.helpers import idle, pump


def _movie(path, frames: int = 10) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 20, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_send_to_render_queues_a_job_with_the_chosen_workflow_and_priority(online, studio) -> None:
    pump(lambda: online.get().table("workflows") and idle(), what="workflows")
    settings = bpy.context.window_manager.aipipe_render
    names = sorted(online.get().table("workflows"))
    settings.workflow = "cpu_test_still_video" if "cpu_test_still_video" in names else names[0]
    settings.priority = 70
    state = bpy.context.window_manager.aipipe
    state.shot_index = [i.id for i in state.shots].index(studio.shots[0]["id"])
    assert bpy.ops.aipipe.render_send() == {"FINISHED"}
    pump(lambda: idle() and "queued" in online.get().message.text, what="render job")
    jobs = studio.admin.get("/api/farm/jobs", params={"shot_id": studio.shots[0]["id"]}).json()["items"]
    assert jobs[0]["priority"] == 70 and jobs[0]["workflow"] == settings.workflow
    from blender_addon.render import ops

    assert ops.poll_jobs() is not None  # an unfinished job is being followed
    pump(idle, what="job poll")
    assert online.get().table("jobs")[jobs[0]["id"]]["status"] == "queued"


def test_render_refused_without_first_frame_says_why(online, studio) -> None:
    state = bpy.context.window_manager.aipipe
    state.shot_index = [i.id for i in state.shots].index(studio.shots[1]["id"])
    bpy.context.window_manager.aipipe_render.params = "[1, 2]"
    try:
        bpy.ops.aipipe.render_send()
    except RuntimeError as exc:
        assert "params" in str(exc)
    bpy.context.window_manager.aipipe_render.params = ""
    bpy.ops.aipipe.render_send()
    pump(lambda: idle() and online.get().message.level == "ERROR", what="refusal", errors_ok=True)
    assert "no approved first frame" in online.get().message.text


def test_finished_render_loads_into_the_sequencer_and_camera(online, studio, tmp_path) -> None:
    movie = tmp_path / "render.mp4"
    _movie(movie)
    with movie.open("rb") as handle:
        version = studio.admin.post(
            f"/api/shots/{studio.shots[0]['id']}/versions",
            data={"stage": "render"},
            files={"files": ("render.mp4", handle, "video/mp4")},
        ).json()
    scene = bpy.context.scene
    camera = bpy.data.objects.new("CAM", bpy.data.cameras.new("CAM"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    bpy.ops.ed.undo_push(message="Before the loads")  # what the artist's last edit left on the stack
    for target in ("VSE", "CAMERA"):
        assert bpy.ops.aipipe.render_load_result(version_id=version["id"], target=target) == {"FINISHED"}
        pump(lambda: idle() and "render_" in online.get().message.text, what="load render")
    from blender_addon import compat

    strips = list(compat.vse_strips(scene))
    assert len(strips) == 1 and compat.strip_range(strips[0])[1] - compat.strip_range(strips[0])[0] == 10
    assert camera.data.background_images[0].clip is not None
    # each load landed after its operator returned and is one undo step
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert len(bpy.data.objects["CAM"].data.background_images) == 0
    assert len(list(compat.vse_strips(bpy.context.scene))) == 1
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert len(list(compat.vse_strips(bpy.context.scene))) == 0
