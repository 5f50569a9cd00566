"""Conform this edit in the add-on, without Blender: the strips as the request's `edit`, what stops a strip
from being sent, the server's refusal on the strips it names, and the conform followed from events."""

from __future__ import annotations

import pytest

from blender_addon.editorial import conform_core as core
from blender_addon.editorial.render_ready_core import line_text


def _strip(
    name: str, start: int, end: int, offset: int = 0, version: str = "v", movie: bool = True
) -> core.StripCut:
    version_id = f"{version}-{name}" if version else ""
    return core.StripCut(name, name.upper(), f"shot-{name}", version_id, start, end, offset, movie)


def _text(lines: list[core.Line]) -> list[str]:
    return [line_text(line, lambda template, **fields: template.format(**fields)) for line in lines]


def test_strips_are_sent_left_to_right_with_their_trims_as_the_versions_frames() -> None:
    strips = [_strip("b", 30, 38, offset=4), _strip("a", 1, 25, offset=6), _strip("c", 50, 60)]
    assert core.edit_cuts(strips) == [
        {"shot_id": "shot-a", "version_id": "v-a", "cut_in": 6, "cut_out": 30},
        {"shot_id": "shot-b", "version_id": "v-b", "cut_in": 4, "cut_out": 12},
        {"shot_id": "shot-c", "version_id": "v-c", "cut_in": 0, "cut_out": 10},
    ]
    body = core.request_body(core.edit_cuts(strips), approved_only=False, profile="prores_hq")
    assert (body["require_approval"], body["profile"], len(body["edit"])) == (False, "prores_hq", 3)


def test_a_slate_a_still_and_overlapping_strips_are_not_sent_and_each_is_named() -> None:
    strips = [_strip("a", 1, 25), _strip("b", 20, 30), _strip("c", 30, 40, version=""),
              _strip("d", 40, 50, movie=False)]  # fmt: skip
    with pytest.raises(core.EditRefused) as refused:
        core.edit_cuts(strips)
    assert _text(refused.value.lines) == [
        "c shows no version: update its media first",
        "d shows a still, not a movie",
        "a and b overlap",
    ]
    with pytest.raises(core.EditRefused):
        core.edit_cuts([])


def test_the_servers_refusal_is_shown_on_the_strips_it_names() -> None:
    follow = core.ConformFollow()
    follow.sent(["SHT_0010", "SHT_0020.001"])
    follow.refuse(
        [
            {"field": "edit[1].version_id", "message": "shot SHT_0020: render v002 is not approved"},
            {"field": "edit.0.cut_in", "message": "Input should be greater than or equal to 0"},
        ],
        "Cannot conform edit[1].version_id",
    )
    assert _text(follow.lines()) == [
        "The conform was refused:",
        "Strip SHT_0020.001: shot SHT_0020: render v002 is not approved",
        "Field edit.0.cut_in: Input should be greater than or equal to 0",
    ]
    follow.refuse([], "404: no such project")
    assert _text(follow.lines())[1:] == ["404: no such project"]


def test_the_conform_is_followed_from_its_jobs_progress_and_the_deliverys_events() -> None:
    follow = core.ConformFollow()
    follow.sent(["a", "b"])
    delivery = {"id": "d1", "number": 3, "status": "queued", "conform_job_id": "j1", "frames": 48, "shots": 2,
                "progress": 0.0, "stage": ""}  # fmt: skip
    follow.queued(delivery)
    assert _text(follow.lines()) == ["Conform v003: 2 cuts, 48 frames", "Waiting for a farm agent"]
    assert not follow.on_job({"id": "other", "progress": 0.9, "status": "running"})
    assert follow.on_job(
        {"id": "j1", "progress": 0.25, "stage_text": "encoded 1 of 2 shots", "status": "running"}
    )
    assert _text(follow.lines())[1] == "25% done conform: encoded 1 of 2 shots"
    assert follow.on_job({"id": "j1", "progress": 0.1})  # a late reading never takes progress back
    assert follow.progress == 0.25
    assert not follow.on_delivery({**delivery, "id": "d2", "status": "failed"})  # another delivery
    done = {**delivery, "status": "succeeded", "progress": 1.0, "conform": {"name": "P_conform_v003.mov"}}
    assert follow.on_delivery(done)
    assert _text(follow.lines())[1] == "Done: P_conform_v003.mov"
    assert follow.on_job({"id": "j1", "progress": 0.5}) and follow.progress == 1.0
    follow.on_delivery({**delivery, "status": "failed", "error": "conform: cancelled"})
    assert _text(follow.lines())[1] == "Failed: conform: cancelled"
