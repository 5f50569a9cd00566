"""Render ready shots in the add-on, without Blender: what is sent, how the answer reads, which published
version comes back onto which strip, and the progress the VSE panel shows."""

from __future__ import annotations

from blender_addon.editorial import render_ready_core as core
from blender_addon.editorial.render_ready_core import Target

DEFAULT_ITEM = ("DEFAULT", "Each shot's recipe", "")
ANSWER = {
    "queued": [
        {
            "shot_id": "s1",
            "shot_code": "SHT_0010",
            "recipe": "wan-rife-esrgan",
            "job_ids": ["j1", "j2", "j3"],
        },
        {"shot_id": "s2", "shot_code": "SHT_0020", "recipe": "wan", "job_ids": ["j4"]},
    ],
    "skipped": [
        {"shot_id": "s3", "shot_code": "SHT_0030", "reason": "no approved first frame"},
        {"shot_id": "s4", "shot_code": "SHT_0040", "reason": "The shot's workflow needs ComfyUI 0.8."},
    ],
}


def _version(job_id: str, stage: str, number: int, shot_id: str = "s1") -> dict:
    return {"id": f"v-{stage}-{number}", "shot_id": shot_id, "stage": stage, "number": number,
            "provenance": {"job_id": job_id}}  # fmt: skip


def _followed() -> core.RenderReady:
    state = core.RenderReady()
    state.track(ANSWER, {"s1": [Target("Scene", "SHT_0010")], "s2": [Target("Scene", "SHT_0020")]})
    return state


def test_the_default_recipe_is_sent_as_null_and_no_selection_as_every_confirmed_shot() -> None:
    assert core.request_body(core.DEFAULT, None) == {"recipe": None, "shot_ids": None}
    assert core.request_body("wan", ["s1"]) == {"recipe": "wan", "shot_ids": ["s1"]}
    assert core.request_body("wan", []) == {"recipe": "wan", "shot_ids": None}


def test_selected_strips_name_their_shots_once_in_order_and_none_selected_means_all() -> None:
    strips = [("s2", True), ("s1", False), ("s2", True), ("s3", True), ("", True)]
    assert core.chosen_shots(strips) == ["s2", "s3"]
    assert core.chosen_shots([("s1", False)]) is None
    assert core.chosen_shots([]) is None


def test_the_recipe_menu_lists_the_default_first_then_each_recipe_with_its_chain() -> None:
    steps = [{"label": "i2v"}, {"workflow": "rife"}, {"job_type": "transcode"}]
    answer = {
        "items": [
            {"name": "wan-rife-esrgan", "version": 2, "steps": steps},
            {"name": "Basic", "version": 1, "steps": []},
            {"version": 1},  # no name: not a recipe the menu can send
        ]
    }
    recipes = core.recipes_of(answer)
    assert core.recipes_of([{"name": "x"}]) == [{"name": "x"}]
    items = core.recipe_items(recipes, DEFAULT_ITEM)
    assert [item[:3] for item in items] == [
        DEFAULT_ITEM,
        ("Basic", "Basic v1", ""),
        ("wan-rife-esrgan", "wan-rife-esrgan v2", "i2v → rife → transcode"),
    ]
    # each item keeps its number when others come and go (Blender stores the number as the choice)
    numbers = {item[0]: item[4] for item in items}
    assert numbers["DEFAULT"] == 0 and len(set(numbers.values())) == 3
    fewer = core.recipe_items(recipes[:1], DEFAULT_ITEM)  # Basic gone
    assert (
        fewer[1][4] == numbers["wan-rife-esrgan"]
        and core.enum_number("wan-rife-esrgan") == numbers["wan-rife-esrgan"]
    )


def test_the_report_counts_queued_and_skipped_and_names_each_skipped_shots_reason() -> None:
    lines = core.report_lines(ANSWER)
    assert lines[0] == core.Line(
        "Render ready: {queued} shots queued, {skipped} skipped", {"queued": 2, "skipped": 2}
    )
    reason = core.Line("no approved first frame")
    assert lines[1] == core.Line("{shot} skipped: {reason}", {"shot": "SHT_0030", "reason": reason})
    # a reason the add-on has no text for is shown as the server wrote it
    assert core.line_text(lines[2], _english) == "SHT_0040 skipped: The shot's workflow needs ComfyUI 0.8."


def _english(template: str, **fields: object) -> str:
    return template.format(**fields) if fields else template


def test_every_reason_the_server_words_alike_is_translatable_and_named_parts_stay_fields() -> None:
    from blender_addon.korean.render_ready import KOREAN

    assert [r for r in core.REASONS if r not in KOREAN] == []
    for _, template in core.PATTERNS:
        assert template in KOREAN
    busy = core.reason_line("a render is already queued or running (job 5d6c-1)")
    assert busy == core.Line("a render is already queued or running (job {job})", {"job": "5d6c-1"})
    assert core.reason_line("it has a render (render v002)").fields == {"render": "render v002"}

    def korean(template: str, **fields: object) -> str:
        return KOREAN.get(template, template).format(**fields) if fields else KOREAN.get(template, template)

    skipped = {
        "skipped": [{"shot_id": "s", "shot_code": "SHT_0050", "reason": "it has a render (render v002)"}]
    }
    assert (
        core.line_text(core.report_lines(skipped)[1], korean)
        == "SHT_0050 건너뜀: 이미 렌더가 있습니다 (render v002)"
    )


def test_every_job_of_the_answer_is_followed_with_its_shot() -> None:
    state = _followed()
    assert set(state.jobs) == {"j1", "j2", "j3", "j4"}
    assert state.jobs["j2"].shot_code == "SHT_0010" and state.jobs["j4"].recipe == "wan"
    assert state.targets == {"s1": [Target("Scene", "SHT_0010")], "s2": [Target("Scene", "SHT_0020")]}
    assert state.active() == 4


def test_job_events_move_the_shots_progress() -> None:
    state = _followed()
    assert not state.on_job({"id": "other", "status": "running"})  # not ours
    assert state.on_job({"id": "j1", "status": "succeeded", "progress": 1.0, "output_stage": "render"})
    assert state.on_job({"id": "j2", "status": "running", "progress": 0.25, "output_stage": "interp"})
    assert state.on_job({"id": "j4", "status": "failed", "progress": 0.0})
    first, second = state.shots()
    assert (first.shot_code, first.done, first.total, first.running, first.progress, first.failed) == (
        "SHT_0010", 1, 3, "interp", 0.25, 0,
    )  # fmt: skip
    assert (second.done, second.total, second.running, second.failed) == (0, 1, "", 1)
    assert state.active() == 2


def test_a_version_made_by_a_followed_job_comes_back_onto_its_shots_strips() -> None:
    state = _followed()
    assert state.result_shot(_version("j1", "render", 3)) == "s1"
    assert state.result_shot(_version("nobody", "render", 3)) is None  # made by a job we did not queue
    assert state.result_shot({"stage": "render", "number": 1, "provenance": {}}) is None
    assert state.result_shot(_version("j1", "previz", 4)) is None  # not a render result


def test_a_later_step_replaces_an_earlier_one_but_never_the_other_way() -> None:
    state = _followed()
    state.mark_shown("s1", _version("j2", "interp", 1))
    assert state.result_shot(_version("j1", "render", 5)) is None  # late render after the interpolation
    assert state.result_shot(_version("j3", "upscale", 1)) == "s1"
    state.mark_shown("s1", _version("j3", "upscale", 1))
    assert state.shots()[0].shown == "upscale v001"
    # queueing the shot again starts over: the new run's first render replaces the old upscale
    state.track({"queued": [{"shot_id": "s1", "shot_code": "SHT_0010", "job_ids": ["j9"]}]}, {})
    assert state.result_shot(_version("j9", "render", 6)) == "s1"
    assert state.targets["s1"] == [Target("Scene", "SHT_0010")]  # the strips are remembered


def test_clear_forgets_only_the_shots_whose_jobs_have_all_ended() -> None:
    state = _followed()
    state.on_job({"id": "j4", "status": "succeeded"})
    state.on_job({"id": "j1", "status": "succeeded"})
    state.forget_finished()
    assert {j.shot_id for j in state.jobs.values()} == {"s1"}
    assert "s2" not in state.targets


def test_the_media_file_is_the_movie_before_any_image() -> None:
    version = {"files": [{"name": "a.png", "mime": "image/png"}, {"name": "a.mp4", "mime": "video/mp4"}]}
    assert core.media_file(version) == {"name": "a.mp4", "mime": "video/mp4"}
    assert core.media_file({"files": [{"name": "a.json", "mime": "application/json"}]}) is None
