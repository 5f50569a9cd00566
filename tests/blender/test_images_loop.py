"""The image loop in real Blender against a real server: batch takes from selected strips, the A/B wipe in
the VSE, stepping and A/B in the Image Editor, review with a frame note, marker notes, use as first frame,
redo, and the keyboard stepping keymaps."""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy
import httpx
import pytest

from tests.blender.helpers import idle, pump
from tests.support.framecode import coded_movie
from tests.support.media import png_bytes

DURATIONS = (48, 24, 30)
COLOURS = ("red", "green", "blue")


def _take(admin: httpx.Client, shot_id: str, colour: str, seed: int) -> dict[str, Any]:
    """A previz still with the provenance a generate workflow would have left."""
    files = [("files", (f"{colour}.png", png_bytes(64, 36, colour), "image/png"))]
    provenance = json.dumps({"workflow": "flux1_dev_t2i", "seed": seed, "prompt": f"rain, {colour} light"})
    data = {"stage": "previz", "provenance": provenance}
    made = admin.post(f"/api/shots/{shot_id}/versions", data=data, files=files)
    assert made.status_code == 201, made.text
    return made.json()


def _project(admin: httpx.Client) -> dict[str, Any]:
    """Three shots; the first has three takes (stills), the newest approved (so the edit shows it)."""
    code = f"TK{uuid.uuid4().hex[:8].upper()}"  # after the studio's NIGHT: its login still picks NIGHT
    project = admin.post("/api/projects", json={"code": code, "name": "Takes", "fps": "24"})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    scene = admin.post(f"/api/projects/{project_id}/scenes", json={}).json()
    shots = []
    for duration in DURATIONS:
        body = {"scene_id": scene["id"], "duration_frames": duration, "description": "Rina runs in the rain"}
        made = admin.post(f"/api/projects/{project_id}/shots", json=body)
        assert made.status_code == 201, made.text
        shots.append(made.json())
    takes = [_take(admin, shots[0]["id"], colour, 100 + i) for i, colour in enumerate(COLOURS)]
    approved = admin.post(f"/api/versions/{takes[-1]['id']}/reviews", json={"verdict": "approve"})
    assert approved.status_code == 201, approved.text
    return {"project": project.json(), "shots": shots, "takes": takes}


@pytest.fixture
def director(addon, studio):
    """Logged in as a director (may queue takes and approve them)."""
    name, password = f"director_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    made = studio.admin.post("/api/users", json={"username": name, "password": password, "role": "director"})
    assert made.status_code == 201, made.text
    addon.preferences().server_url = studio.url
    assert bpy.ops.aipipe.connect_login(username=name, password=password) == {"FINISHED"}
    pump(lambda: addon.get().online and idle(), what="login")
    return addon


@pytest.fixture
def edit(director, studio) -> dict[str, Any]:
    """The project built in the VSE (shot 1 shows its newest take), picked in the add-on."""
    made = _project(studio.admin)
    pump(idle, what="the add-on to settle")
    director.get().extras["project_id"] = made["project"]["id"]
    _run(bpy.ops.aipipe.editorial_build)
    return made


def _run(operator: Any, **kwargs: Any) -> None:
    assert operator(**kwargs) == {"FINISHED"}
    pump(idle, timeout_s=60, what=str(operator))


def _picture(shot_id: str) -> Any:
    from blender_addon.editorial import vse

    return next(s for s in vse.picture_strips(bpy.context.scene) if s["aipipe_shot_id"] == shot_id)


def _reviews(admin: httpx.Client, version_id: str) -> list[dict[str, Any]]:
    """The version's reviews, the fixture's own approval (no text) left out."""
    items = admin.get(f"/api/versions/{version_id}/reviews").json()["items"]
    return [r for r in items if r["text"] or r["frame"] is not None or r["verdict"] != "approve"]


def test_batch_from_selected_strips_queues_jobs_for_exactly_those_shots(edit, studio, director) -> None:
    from blender_addon import compat

    shots = edit["shots"]
    for strip in compat.vse_all_strips(bpy.context.scene):
        strip.select = strip.get("aipipe_shot_id") in (shots[0]["id"], shots[2]["id"])
    state = bpy.context.window_manager.aipipe_images
    state.candidates, state.seeds, state.seed = 2, "increment", 100
    _run(bpy.ops.aipipe.images_generate, source="STRIPS")
    assert director.get().message.text == "4 takes queued for 2 shots"
    jobs = {
        shot["id"]: studio.admin.get("/api/farm/jobs", params={"shot_id": shot["id"], "limit": 50}).json()[
            "items"
        ]
        for shot in shots
    }
    assert [len(jobs[s["id"]]) for s in shots] == [2, 0, 2]


def test_batch_with_a_recipe_queues_each_takes_chain(edit, studio, director) -> None:
    from blender_addon.editorial.render_ready import ensure_recipes
    from blender_addon.images.props import recipe_items

    shots, project_id = edit["shots"], edit["project"]["id"]
    steps = [
        {"label": "t2i", "workflow": "flux1_dev_t2i"},
        {"label": "refine", "workflow": "flux1_dev_i2i", "params": {"denoise": 0.4}},
    ]
    for name, chain in (("look", steps), ("film", [{"workflow": "ltxv095_i2v"}])):
        made = studio.admin.post(f"/api/projects/{project_id}/recipes", json={"name": name, "steps": chain})
        assert made.status_code == 201, made.text
    ensure_recipes(director.get(), project_id)
    pump(idle, what="the recipes")
    state = bpy.context.window_manager.aipipe_images
    offered = [item[0] for item in recipe_items(state, bpy.context)]
    assert offered == ["NONE", "look"]  # a recipe starting with i2v cannot make a take
    _run(bpy.ops.aipipe.images_tick, shot_id=shots[1]["id"], code=shots[1]["code"])
    state.candidates, state.recipe = 2, "look"
    try:
        _run(bpy.ops.aipipe.images_generate, source="SHOTS")
    finally:
        state.recipe = "NONE"
    assert director.get().message.text == "2 takes queued for 1 shots"
    jobs = studio.admin.get("/api/farm/jobs", params={"shot_id": shots[1]["id"], "limit": 50}).json()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for job in jobs["items"]:
        by_type.setdefault(job["workflow"], []).append(job)
    assert len(by_type["flux1_dev_t2i"]) == len(by_type["flux1_dev_i2i"]) == 2
    firsts = {j["id"] for j in by_type["flux1_dev_t2i"]}
    assert all(j["depends_on"][0] in firsts for j in by_type["flux1_dev_i2i"])


def test_ticked_shots_are_what_the_shot_list_batch_queues(edit, studio, director) -> None:
    shots = edit["shots"]
    _run(bpy.ops.aipipe.images_tick, shot_id=shots[1]["id"], code=shots[1]["code"])
    _run(bpy.ops.aipipe.images_generate, source="SHOTS")
    listed = studio.admin.get("/api/farm/jobs", params={"shot_id": shots[1]["id"], "limit": 50}).json()
    assert len(listed["items"]) == 4  # the dialog's default: 4 candidates
    _run(bpy.ops.aipipe.images_tick, shot_id=shots[1]["id"], code=shots[1]["code"])  # untick
    with pytest.raises(RuntimeError, match="shots: pick at least one shot"):  # nothing ticked: refused
        bpy.ops.aipipe.images_generate(source="SHOTS")


def test_the_ab_wipe_sits_between_the_two_chosen_takes_over_the_strip(edit, studio, director) -> None:
    from blender_addon import compat

    first, second, third = edit["takes"]
    scene = bpy.context.scene
    base = _picture(edit["shots"][0]["id"])
    scene.sequence_editor.active_strip = base
    _run(bpy.ops.aipipe.images_vse_wipe, version_a=third["id"], version_b=first["id"], position=0.25)
    made = {s["aipipe_compare"]: s for s in compat.vse_all_strips(scene) if s.get("aipipe_compare")}
    a, b, wipe = made["A"], made["B"], made["WIPE"]
    assert (a["aipipe_version_id"], b["aipipe_version_id"]) == (third["id"], first["id"])
    assert (base.channel, a.channel, b.channel, wipe.channel) == (2, 3, 4, 5)
    assert wipe.type == "WIPE" and (wipe.input_1, wipe.input_2) == (a, b)
    assert {compat.strip_range(s) for s in (a, b, wipe)} == {compat.strip_range(base)} == {(1, 49)}
    assert wipe.effect_fader == pytest.approx(0.25)
    assert a.elements[0].filename.endswith("blue.png") or "blue" in a.elements[0].filename
    # a second wipe replaces the first; the edit's strip is untouched and still the only picture of its shot
    scene.sequence_editor.active_strip = a
    _run(bpy.ops.aipipe.images_vse_wipe)
    assert len([s for s in compat.vse_all_strips(scene) if s.get("aipipe_compare")]) == 3
    _run(bpy.ops.aipipe.images_vse_wipe_clear)
    assert not [s for s in compat.vse_all_strips(scene) if s.get("aipipe_compare")]
    assert _picture(edit["shots"][0]["id"]).channel == 2
    # stacking the takes for review (editorial) takes the wipe's strips away too, leaving no effect behind
    scene.sequence_editor.active_strip = _picture(edit["shots"][0]["id"])
    _run(bpy.ops.aipipe.images_vse_wipe)
    _run(bpy.ops.aipipe.editorial_takes)
    assert not [s for s in compat.vse_all_strips(scene) if s.get("aipipe_compare") or s.type == "WIPE"]
    assert len([s for s in compat.vse_all_strips(scene) if s.get("aipipe_take")]) == 3


def test_side_by_side_in_the_vse_puts_a_left_and_b_right_at_half_size(edit, studio, director) -> None:
    from blender_addon import compat

    first, second, _third = edit["takes"]
    scene = bpy.context.scene
    base = _picture(edit["shots"][0]["id"])
    scene.sequence_editor.active_strip = base
    _run(bpy.ops.aipipe.images_vse_wipe, version_a=first["id"], version_b=second["id"], layout="SIDE")
    made = {s["aipipe_compare"]: s for s in compat.vse_all_strips(scene) if s.get("aipipe_compare")}
    assert sorted(made) == ["A", "B"]  # no wipe effect
    a, b = made["A"], made["B"]
    quarter = scene.render.resolution_x / 4
    assert (a.channel, b.channel) == (3, 4) and compat.strip_range(a) == compat.strip_range(b) == (1, 49)
    assert (a.transform.scale_x, a.transform.offset_x) == (0.5, -quarter)
    assert (b.transform.scale_x, b.transform.offset_x, b.blend_type) == (0.5, quarter, "ALPHA_OVER")


def test_the_vse_panel_shows_the_prompts_of_the_takes_the_strips_show(edit, studio, director) -> None:
    from types import SimpleNamespace

    from tests.blender.test_addon_panels import RecordingLayout

    def drawn() -> list[str]:
        log: list[str] = []
        bpy.types.AIPIPE_PT_images_vse.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
        return log

    first, second, _third = edit["takes"]
    scene = bpy.context.scene
    scene.sequence_editor.active_strip = _picture(edit["shots"][0]["id"])  # shows the third (blue) take
    assert "label:Load takes to see their prompts and parameters" in drawn()
    _run(bpy.ops.aipipe.images_load_takes)
    log = drawn()
    assert "label:prompt: rain, blue light" in log and "label:seed: 102" in log
    assert not [line for line in log if "red light" in line or "green light" in line]
    _run(bpy.ops.aipipe.images_vse_wipe, version_a=first["id"], version_b=second["id"])
    prompts = [line for line in drawn() if line.startswith("label:prompt: ")]
    assert prompts == ["label:prompt: rain, red light", "label:prompt: rain, green light"]  # A, then B


def test_stepping_changes_the_shown_take_and_ab_flips(edit, studio, director) -> None:
    first, second, third = edit["takes"]
    state = bpy.context.window_manager.aipipe_images
    bpy.context.scene.sequence_editor.active_strip = _picture(edit["shots"][0]["id"])
    _run(bpy.ops.aipipe.images_load_takes)
    assert [t.version_id for t in state.takes] == [first["id"], second["id"], third["id"]]
    assert json.loads(state.takes[1].provenance)["prompt"] == "rain, green light"  # shown in the panel
    assert state.takes[1].label == "v002 · seed 101"
    shown = state.shown_version
    assert shown in (first["id"], third["id"])  # the first frame (the approved one) or else the first take
    assert bpy.data.images.get(state.shown_image) is not None
    ids = [first["id"], second["id"], third["id"]]
    _run(bpy.ops.aipipe.images_step_take, step=1)
    assert state.shown_version == ids[(ids.index(shown) + 1) % 3] != shown
    state.take_index = 0
    _run(bpy.ops.aipipe.images_step_take, step=-1)  # wraps to the last
    assert state.shown_version == third["id"]
    image = bpy.data.images[state.shown_image]
    assert tuple(image.size) == (64, 36) and image.pixels[2] == pytest.approx(1.0)  # blue
    state.other_index = 0
    _run(bpy.ops.aipipe.images_flip)
    assert state.show == "B" and state.shown_version == first["id"]
    state.mode = "SIDE"
    _run(bpy.ops.aipipe.images_show)
    assert tuple(bpy.data.images[state.shown_image].size) == (128, 36)
    state.mode, state.wipe = "WIPE", 0.5
    _run(bpy.ops.aipipe.images_show)
    assert tuple(bpy.data.images[state.shown_image].size) == (64, 36)


def test_a_verdict_with_a_frame_note_from_the_vse_reaches_the_server(edit, studio, director) -> None:
    third = edit["takes"][2]
    scene = bpy.context.scene
    strip = _picture(edit["shots"][0]["id"])
    assert strip["aipipe_version_id"] == third["id"]  # the edit shows the newest take
    scene.sequence_editor.active_strip = strip
    scene.frame_current = 12
    _run(bpy.ops.aipipe.images_review, target="VSE", verdict="needs_changes", text="손 모양 수정")
    notes = _reviews(studio.admin, third["id"])
    assert [(n["verdict"], n["frame"], n["text"]) for n in notes] == [("needs_changes", 11, "손 모양 수정")]
    assert studio.admin.get(f"/api/versions/{third['id']}").json()["verdict"] == "needs_changes"


def test_a_review_from_the_image_editor_is_on_the_shown_take(edit, studio, director) -> None:
    first, second, _third = edit["takes"]
    bpy.context.scene.sequence_editor.active_strip = _picture(edit["shots"][0]["id"])
    _run(bpy.ops.aipipe.images_load_takes)
    bpy.context.window_manager.aipipe_images.take_index = 0
    _run(bpy.ops.aipipe.images_step_take, step=1)
    # A still's frames are numbered from the cut, 1001: its first is stored as 0.
    _run(bpy.ops.aipipe.images_review, target="IMAGE", verdict="reject", text="too dark", frame=1001)
    assert [(n["verdict"], n["frame"]) for n in _reviews(studio.admin, second["id"])] == [("reject", 0)]
    assert _reviews(studio.admin, first["id"]) == []
    state = bpy.context.window_manager.aipipe_images
    assert "reject" in state.takes[1].label  # the list was reloaded with the verdict


class _DialogLayout:
    """Stands in for the review dialog's `UILayout` (background Blender draws no UI): records its lines."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def label(self, text: str = "", **_kwargs: Any) -> None:
        self.log.append(f"label:{text}")

    def prop(self, _data: Any, name: str, **_kwargs: Any) -> None:
        self.log.append(f"prop:{name}")


def _render_built_into_the_edit(
    admin, director, tmp_path: Path, first: int, frames: int, data: dict[str, str]
) -> tuple[dict, int, Any]:
    """A new project with one shot of 24 frames and a frame-coded render movie (frames numbered from first)
    published with data; the edit built in the VSE: (shot, the render's version id, its picture strip)."""
    code = f"TN{uuid.uuid4().hex[:8].upper()}"
    project = admin.post("/api/projects", json={"code": code, "name": "Numbers", "fps": "24"}).json()
    scene_id = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()["id"]
    body = {"scene_id": scene_id, "duration_frames": 24}
    shot = admin.post(f"/api/projects/{project['id']}/shots", json=body).json()
    movie = coded_movie(tmp_path / "render.mp4", first, frames, "24").read_bytes()
    files = [("files", ("render.mp4", movie, "video/mp4"))]
    render = admin.post(f"/api/shots/{shot['id']}/versions", data=data, files=files)
    assert render.status_code == 201, render.text
    render_id = render.json()["id"]
    pump(idle, what="the add-on to settle")
    director.get().extras["project_id"] = project["id"]
    _run(bpy.ops.aipipe.editorial_build)
    strip = _picture(shot["id"])
    assert strip["aipipe_version_id"] == render_id
    return shot, render_id, strip


def test_the_review_dialog_numbers_frames_as_the_shot_does_and_the_note_keeps_the_media_frame(
    studio, director, tmp_path: Path
) -> None:
    """A render holding 8 frames of head handle (its movie starts at 993) in the VSE: the dialog's current
    frame and its Frame field are the shot's numbers (1013 on the cut's 13th frame, as the review room and
    the shot's timeline show it), not counted from 0; the note keeps the media frame (20), as before."""
    from blender_addon.images.review import AIPIPE_OT_images_review

    admin = studio.admin
    data = {"stage": "render", "first_frame": "993", "handle_in": "8"}
    shot, render_id, strip = _render_built_into_the_edit(admin, director, tmp_path, 993, 40, data)
    scene = bpy.context.scene
    scene.sequence_editor.active_strip = strip
    scene.frame_current = 13  # the edit starts at 1: the cut's 13th frame, the movie's 21st

    log: list[str] = []
    dialog = SimpleNamespace(layout=_DialogLayout(log), target="VSE", frame=-1)
    AIPIPE_OT_images_review.draw(dialog, bpy.context)
    assert "label:Current frame: 1013" in log and "prop:frame" in log

    _run(bpy.ops.aipipe.images_review, target="VSE", text="at the current frame")
    _run(bpy.ops.aipipe.images_review, target="VSE", text="at the cut's first", frame=1001)
    _run(bpy.ops.aipipe.images_review, target="VSE", text="at the movie's first", frame=993)
    # Before the take's first frame: refused, saying why; nothing sent.
    with pytest.raises(RuntimeError, match="Frame 992 is before the take's first frame, 993"):
        bpy.ops.aipipe.images_review(target="VSE", text="too early", frame=992)
    pump(idle, what="the add-on to settle")
    notes = admin.get(f"/api/versions/{render_id}/reviews").json()["items"]
    assert sorted((n["text"], n["frame"]) for n in notes) == [
        ("at the current frame", 20),
        ("at the cut's first", 8),
        ("at the movie's first", 0),
    ]
    # The editor trims the strip's head: the movie's frames keep their numbers.
    strip.frame_offset_start = 10
    log.clear()
    AIPIPE_OT_images_review.draw(dialog, bpy.context)
    assert "label:Current frame: 1013" in log


def test_a_strip_of_a_take_published_at_2001_is_numbered_from_2001_as_the_review_room_numbers_it(
    studio, director, tmp_path: Path
) -> None:
    """A render published with first_frame=2001 and no handle: the review room shows its first frame as 2001,
    and so does the dialog (not 1001, the rule for a take that says no number); the note keeps the media
    frame, counted from 0."""
    from blender_addon.images.review import AIPIPE_OT_images_review

    admin = studio.admin
    data = {"stage": "render", "first_frame": "2001"}
    shot, render_id, strip = _render_built_into_the_edit(admin, director, tmp_path, 2001, 24, data)
    scene = bpy.context.scene
    assert strip["aipipe_media_first"] == 2001
    scene.sequence_editor.active_strip = strip
    scene.frame_current = 1  # the edit starts at 1: the take's first frame

    log: list[str] = []
    dialog = SimpleNamespace(layout=_DialogLayout(log), target="VSE", frame=-1)
    AIPIPE_OT_images_review.draw(dialog, bpy.context)
    assert "label:Current frame: 2001" in log

    _run(bpy.ops.aipipe.images_review, target="VSE", text="at the current frame")
    _run(bpy.ops.aipipe.images_review, target="VSE", text="at its 13th", frame=2013)
    with pytest.raises(RuntimeError, match="Frame 1001 is before the take's first frame, 2001"):
        bpy.ops.aipipe.images_review(target="VSE", text="the usual cut start", frame=1001)
    pump(idle, what="the add-on to settle")
    notes = admin.get(f"/api/versions/{render_id}/reviews").json()["items"]
    assert sorted((n["text"], n["frame"]) for n in notes) == [
        ("at its 13th", 12),
        ("at the current frame", 0),
    ]

    # A newer render that says no number (a farm render of the cut): Update media swaps it in, and its
    # frames are numbered by the rule again (1001 less its head handle), not from the old take's 2001.
    movie = coded_movie(tmp_path / "render2.mp4", 1001, 24, "24").read_bytes()
    files = [("files", ("render2.mp4", movie, "video/mp4"))]
    newer = admin.post(f"/api/shots/{shot['id']}/versions", data={"stage": "render"}, files=files)
    assert newer.status_code == 201, newer.text
    _run(bpy.ops.aipipe.editorial_update_media, swap=True)
    strip = _picture(shot["id"])
    assert strip["aipipe_version_id"] == newer.json()["id"] and "aipipe_media_first" not in strip
    scene.sequence_editor.active_strip = strip
    log.clear()
    AIPIPE_OT_images_review.draw(dialog, bpy.context)
    assert "label:Current frame: 1001" in log


def test_a_take_whose_version_says_first_frame_993_is_numbered_from_993_in_the_image_editor_review(
    edit, studio, director
) -> None:
    """A take published with first_frame=993 (the VSE and the review room number it from 993): the Image
    Editor's review dialog says its first frame is 993, not 1001, a note "fix at 1012" keeps media frame 19,
    and so do the A/B wipe's strips of it; a take that says no number is numbered from 1001, as before."""
    from blender_addon import compat
    from blender_addon.images.review import AIPIPE_OT_images_review

    shot_id, plain = edit["shots"][0]["id"], edit["takes"][0]
    files = [("files", ("own.png", png_bytes(64, 36, "red"), "image/png"))]
    made = studio.admin.post(
        f"/api/shots/{shot_id}/versions", data={"stage": "previz", "first_frame": "993"}, files=files
    )
    assert made.status_code == 201, made.text
    own = made.json()["id"]
    scene = bpy.context.scene
    scene.sequence_editor.active_strip = _picture(shot_id)
    _run(bpy.ops.aipipe.images_load_takes)
    state = bpy.context.window_manager.aipipe_images
    ids = [t.version_id for t in state.takes]
    state.show, state.mode = "A", "SINGLE"
    _run(bpy.ops.aipipe.images_set_take, index=ids.index(own), slot="A")
    assert state.shown_version == own

    log: list[str] = []
    dialog = SimpleNamespace(layout=_DialogLayout(log), target="IMAGE", frame=-1)
    AIPIPE_OT_images_review.draw(dialog, bpy.context)
    assert "label:Take's first frame: 993" in log
    _run(bpy.ops.aipipe.images_review, target="IMAGE", text="fix at 1012", frame=1012)
    _run(bpy.ops.aipipe.images_review, target="IMAGE", text="at its first", frame=993)
    with pytest.raises(RuntimeError, match="Frame 992 is before the take's first frame, 993"):
        bpy.ops.aipipe.images_review(target="IMAGE", text="too early", frame=992)
    pump(idle, what="the add-on to settle")
    notes = sorted((n["text"], n["frame"]) for n in _reviews(studio.admin, own))
    assert notes == [("at its first", 0), ("fix at 1012", 19)]

    _run(bpy.ops.aipipe.images_set_take, index=ids.index(plain["id"]), slot="A")
    log.clear()
    AIPIPE_OT_images_review.draw(dialog, bpy.context)
    assert "label:Take's first frame: 1001" in log

    # The A/B wipe in the VSE: its strip of that take is numbered from 993 too, the other from 1001.
    _run(bpy.ops.aipipe.images_vse_wipe, version_a=own, version_b=plain["id"])
    compared = {s["aipipe_compare"]: s for s in compat.vse_all_strips(scene) if s.get("aipipe_compare")}
    assert compared["A"]["aipipe_media_first"] == 993 and "aipipe_media_first" not in compared["B"]
    scene.frame_current = compat.strip_range(compared["A"])[0]
    for slot, number in (("A", 993), ("B", 1001)):
        scene.sequence_editor.active_strip = compared[slot]
        log.clear()
        AIPIPE_OT_images_review.draw(
            SimpleNamespace(layout=_DialogLayout(log), target="VSE", frame=-1), bpy.context
        )
        assert f"label:Current frame: {number}" in log


def test_a_marker_on_a_strip_becomes_a_frame_note_once_and_is_not_doubled_by_a_rebuild(
    edit, studio, director
) -> None:
    third = edit["takes"][2]
    scene = bpy.context.scene
    code = edit["shots"][0]["code"]
    scene.timeline_markers.new("rain too heavy", frame=20)
    scene.timeline_markers.new("off the edit", frame=500)
    _run(bpy.ops.aipipe.images_send_markers)
    notes = _reviews(studio.admin, third["id"])
    assert [(n["frame"], n["text"], n["verdict"]) for n in notes] == [(19, "rain too heavy", None)]
    assert sorted((m.frame, m.name) for m in scene.timeline_markers) == [
        (20, f"{code}: rain too heavy"),
        (500, "off the edit"),
    ]
    assert not bpy.ops.aipipe.images_send_markers.poll()  # nothing new to send
    _run(bpy.ops.aipipe.editorial_build)  # the server's note comes back as a marker, once
    assert sorted((m.frame, m.name) for m in scene.timeline_markers) == [
        (20, f"{code}: rain too heavy"),
        (500, "off the edit"),
    ]
    assert len(_reviews(studio.admin, third["id"])) == 1


def test_use_as_first_frame_reaches_the_server(edit, studio, director) -> None:
    first = edit["takes"][0]
    scene = bpy.context.scene
    bpy.context.scene.sequence_editor.active_strip = _picture(edit["shots"][0]["id"])
    _run(bpy.ops.aipipe.images_vse_wipe, version_a=first["id"], version_b=edit["takes"][1]["id"])
    from blender_addon import compat

    a = next(s for s in compat.vse_all_strips(scene) if s.get("aipipe_compare") == "A")
    scene.sequence_editor.active_strip = a
    _run(bpy.ops.aipipe.images_use_first_frame, target="VSE", note="the framing works")
    shot_id = edit["shots"][0]["id"]
    pinned = studio.admin.get(f"/api/shots/{shot_id}/first-frame")
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["version"]["id"] == first["id"]
    assert [(n["verdict"], n["text"]) for n in _reviews(studio.admin, first["id"])] == [
        ("approve", "the framing works")
    ]


def test_redo_from_a_take_queues_it_again_with_a_new_seed_and_the_edited_prompt(
    edit, studio, director
) -> None:
    shot_id = edit["shots"][0]["id"]
    bpy.context.scene.sequence_editor.active_strip = _picture(shot_id)
    _run(bpy.ops.aipipe.images_redo, target="VSE", new_seed=True, prompt="rain at night")
    assert director.get().message.text.startswith("1 takes queued from ")
    jobs = studio.admin.get("/api/farm/jobs", params={"shot_id": shot_id, "limit": 50}).json()["items"]
    assert len(jobs) == 1 and jobs[0]["workflow"] == "flux1_dev_t2i"
    params = jobs[0]["params"]
    assert params.get("positive") == "rain at night" and params.get("seed") not in (None, 102), params


def test_the_sequencers_stepping_shows_the_strips_other_takes_in_its_place(edit, studio, director) -> None:
    """What Alt+Page Down / Up run in the Sequencer: the strip showing the newest take (the third) steps to
    the next newer one, so wraps round to the oldest, then on to the second, back to the first, always in the
    same place on the timeline — the same direction as the Image Editor's stepping (take number order)."""
    from blender_addon import compat

    first, second, third = edit["takes"]
    scene = bpy.context.scene
    strip = _picture(edit["shots"][0]["id"])
    place = (strip.channel, compat.strip_range(strip))
    shown = []
    for step in (1, 1, 1, -1):
        scene.sequence_editor.active_strip = _picture(edit["shots"][0]["id"])
        _run(bpy.ops.aipipe.editorial_step_version, step=step)
        strip = _picture(edit["shots"][0]["id"])
        assert (strip.channel, compat.strip_range(strip)) == place
        shown.append(strip["aipipe_version_id"])
    assert shown == [first["id"], second["id"], third["id"], second["id"]]


def test_keyboard_stepping_keys_come_and_go_with_the_add_on(addon) -> None:
    import addon_utils

    def items() -> list[tuple[str, str, str, bool, int]]:
        keyconfig = bpy.context.window_manager.keyconfigs.addon
        return sorted(
            (km.name, kmi.idname, kmi.type, kmi.alt, kmi.properties.step)
            for km in keyconfig.keymaps
            for kmi in km.keymap_items
            if kmi.idname in ("aipipe.images_step_take", "aipipe.editorial_step_version")
        )

    assert items() == [
        ("Image", "aipipe.images_step_take", "PAGE_DOWN", True, 1),
        ("Image", "aipipe.images_step_take", "PAGE_UP", True, -1),
        ("Sequencer", "aipipe.editorial_step_version", "PAGE_DOWN", True, 1),
        ("Sequencer", "aipipe.editorial_step_version", "PAGE_UP", True, -1),
    ]
    addon_utils.disable("blender_addon", default_set=True)
    try:
        assert items() == []
    finally:
        addon_utils.enable("blender_addon", default_set=True, handle_error=None)


def test_work_on_a_take_inpaints_with_its_mask_and_edits_with_the_characters_references(
    edit, studio, director
) -> None:
    """Refine / edit / inpaint / outpaint from Blender: the inpaint uses the newest mask painted on that
    take; without one nothing is queued and the artist is told to paint one."""
    first, second, third = edit["takes"]
    shot_id = edit["shots"][0]["id"]
    bpy.context.scene.sequence_editor.active_strip = _picture(shot_id)  # shows the third take

    def jobs() -> list[dict[str, Any]]:
        return studio.admin.get("/api/farm/jobs", params={"shot_id": shot_id, "limit": 50}).json()["items"]

    assert bpy.ops.aipipe.images_rework(target="VSE", operation="inpaint") == {"FINISHED"}
    pump(idle, timeout_s=60, what="an inpaint without a mask", errors_ok=True)
    assert "paint and save a mask" in director.get().message.text and jobs() == []
    director.get().report("")  # the error read: the next waits must not stop on it

    def mask(of: str, number_hint: str) -> str:
        provenance = json.dumps({"source_version_id": of})
        files = [("files", (f"mask_{number_hint}.png", png_bytes(64, 36, "white"), "image/png"))]
        made = studio.admin.post(
            f"/api/shots/{shot_id}/versions", data={"stage": "mask", "provenance": provenance}, files=files
        )
        assert made.status_code == 201, made.text
        return made.json()["id"]

    mask(third["id"], "a")
    newest = mask(third["id"], "b")
    mask(first["id"], "c")  # painted on another take: not this one's
    _run(bpy.ops.aipipe.images_rework, target="VSE", operation="inpaint", text="a red door")
    assert director.get().message.text.startswith("1 takes queued from "), director.get().message.text
    [job] = jobs()
    assert job["workflow"] == "flux1_fill_inpaint" and job["params"]["positive"] == "a red door"
    take = studio.admin.get(f"/api/farm/jobs/{job['id']}").json()
    assert take["type"] == "inpaint"
    import sqlite3

    # The stored inputs (JobOut has none): this take and the newest mask painted on it.
    with sqlite3.connect(studio.server.data_dir / "aipipe.db") as db:
        [(stored,)] = db.execute("SELECT inputs FROM jobs WHERE id = ?", (uuid.UUID(job["id"]).hex,))
    inputs = json.loads(stored)
    assert {i["role"]: i["version_id"] for i in inputs} == {"image": third["id"], "mask": newest}

    _run(bpy.ops.aipipe.images_rework, target="VSE", operation="outpaint", aspect="21:9", candidates=2)
    outpaints = [j for j in jobs() if j["workflow"] == "flux1_fill_outpaint"]
    assert len(outpaints) == 2 and outpaints[0]["params"]["pad_left"] > 0
    with pytest.raises(RuntimeError, match="instruction: say what to change"):
        bpy.ops.aipipe.images_rework(target="VSE", operation="edit", text="  ")
    assert len(jobs()) == 3  # an edit without an instruction queues nothing
    pid = edit["project"]["id"]
    rina = studio.admin.post(f"/api/projects/{pid}/characters", json={"name": "리나"}).json()
    face = [("files", ("face.png", png_bytes(32, 32, "orange"), "image/png"))]
    reference = studio.admin.post(f"/api/characters/{rina['id']}/references", files=face).json()
    control = bpy.context.window_manager.aipipe_control
    control.references.clear()
    control.references.add().id = reference["id"]  # as the layout panel lists the picked character's
    try:
        _run(bpy.ops.aipipe.images_rework, target="VSE", operation="edit", text="make it night")
    finally:
        control.references.clear()
    [edited] = [j for j in jobs() if j["workflow"] == "qwen_image_edit"]
    assert edited["params"]["instruction"] == "make it night"
    with sqlite3.connect(studio.server.data_dir / "aipipe.db") as db:
        [(stored,)] = db.execute("SELECT inputs FROM jobs WHERE id = ?", (uuid.UUID(edited["id"]).hex,))
    assert [(i["role"], i.get("reference_id")) for i in json.loads(stored)] == [
        ("image", None),
        ("reference_image", reference["id"]),
    ]
