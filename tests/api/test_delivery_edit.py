"""Conform of an edit the client sends (the VSE's strips through the add-on): each cut is a version's movie
from `cut_in` to `cut_out`, in the sent order, checked before anything is queued (422 naming `edit[i].field`),
and conformed by a real agent process running ffmpeg: the bar code every test movie frame carries says which
frame of which movie each conformed frame is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_delivery import (
    FPS,
    SHOTS,
    SIZE,
    TEMP_HANDLE,
    _agent,
    _approve,
    _download,
    _edit,
    _finished,
    _loudness,
    _publish,
    _sound,
)
from tests.support.api import Api, assert_problem
from tests.support.cli import aipipe, api_key, cli_env
from tests.support.framecode import coded_movie, frames_of, read_code
from tests.support.media import png_bytes


def _approved_movies(api: Api, shots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each shot's approved render (what `_edit` published for it first)."""
    movies = []
    for shot in shots:
        versions = api.admin.get(f"/api/shots/{shot['id']}/versions", params={"stage": "render"}).json()
        items = versions["items"] if isinstance(versions, dict) else versions
        approved = [v for v in items if v["verdict"] == "approve"]
        assert len(approved) == 1, items
        movies.append(approved[0])
    return movies


def _cut(shot: dict[str, Any], version: dict[str, Any], cut_in: int, cut_out: int) -> dict[str, Any]:
    return {"shot_id": shot["id"], "version_id": version["id"], "cut_in": cut_in, "cut_out": cut_out}


@pytest.mark.timeout(300)
def test_a_sent_edit_is_conformed_in_its_order_with_its_cut_ranges_and_sound(
    api: Api, tmp_path: Path
) -> None:
    made = _edit(api, tmp_path)
    project, shots = made["project"], made["shots"]
    movies = _approved_movies(api, shots)
    (cut0, head0, tail0, first0), (cut1, head1, _, first1), _, (cut3, head3, _, first3) = SHOTS
    # The VSE's edit: shot 4 first, reaching 4 frames into its head handle and trimmed at its tail; shot 2
    # with 3 frames trimmed off its head; shot 1 whole, handles and all; shot 3 left out.
    edit = [
        _cut(shots[3], movies[3], head3 - 4, head3 + 10),
        _cut(shots[1], movies[1], head1 + 3, head1 + cut1),
        _cut(shots[0], movies[0], 0, head0 + cut0 + tail0),
    ]
    expected = [
        first + i
        for first, cut in zip((first3, first1, first0), edit, strict=True)
        for i in range(cut["cut_in"], cut["cut_out"])
    ]
    queued = api.admin.post(f"/api/projects/{project['id']}/conform", json={"edit": edit})
    assert queued.status_code == 201, queued.text
    delivery = queued.json()
    assert delivery["frames"] == len(expected) and delivery["shots"] == 3
    assert [(p["code"], p["start"], p["frames"], p["source_in"]) for p in delivery["plan"]] == [
        (shots[3]["code"], 0, 14, head3 - 4),
        (shots[1]["code"], 14, cut1 - 3, head1 + 3),
        (shots[0]["code"], 14 + cut1 - 3, head0 + cut0 + tail0, 0),
    ]
    assert [e["cut_in"] for e in delivery["options"]["edit"]] == [c["cut_in"] for c in edit]
    # The conform job carries the sent edit: each cut's media, first frame and length, in the sent order.
    job = api.admin.get(f"/api/farm/jobs/{delivery['conform_job_id']}").json()
    assert [(s["code"], s["source_in"], s["frames"]) for s in job["params"]["shots"]] == [
        (shots[3]["code"], head3 - 4, 14),
        (shots[1]["code"], head1 + 3, cut1 - 3),
        (shots[0]["code"], 0, head0 + cut0 + tail0),
    ]
    tracks = {t["name"]: t["clips"] for t in job["params"]["audio"]["tracks"]}
    # The temp sound of shot 2 starts 3 frames later, as its picture does; the reference sound of shot 1
    # cannot start before its first sample (the cut reaches 4 frames before the picture's head handle).
    assert [(c["shot"], c["offset_s"]) for c in tracks["temp"]] == [(1, (TEMP_HANDLE + 3) / FPS)]
    assert [(c["shot"], c["offset_s"]) for c in tracks["reference"]] == [(2, 0.0)]

    with _agent(api, tmp_path / "agent"):
        delivery = _finished(api, delivery["id"])
    conform = _download(api, delivery["conform"], tmp_path)
    assert [read_code(frame) for frame in frames_of(conform)] == expected
    starts = [0, 14, 14 + cut1 - 3, len(expected)]
    temp, reference = _sound(conform, 1), _sound(conform, 0)
    assert _loudness(temp, starts[1], starts[2] - starts[1]) > 0.03
    assert _loudness(temp, starts[0], starts[1]) < 0.001 and _loudness(temp, starts[2], 20) < 0.001
    assert (
        _loudness(reference, starts[2], head0 + cut0 + tail0) > 0.03
        and _loudness(reference, 0, starts[2]) < 0.001
    )


def test_a_sent_edit_that_cannot_be_conformed_is_refused_naming_each_cut(api: Api, tmp_path: Path) -> None:
    made = _edit(api, tmp_path)
    project, shots = made["project"], made["shots"]
    movies = _approved_movies(api, shots)
    other = api.project(fps=str(FPS), width=SIZE[0], height=SIZE[1])
    stranger = api.shot(other["id"], api.scene(other["id"])["id"], duration_frames=12)
    newer = coded_movie(tmp_path / "new.mp4", 7000, 30, str(FPS), SIZE)
    unapproved = _publish(api.admin, shots[2]["id"], "render", newer, "video/mp4")
    still = api.admin.post(
        f"/api/shots/{shots[0]['id']}/versions",
        data={"stage": "previz"},
        files=[("files", ("frame.png", png_bytes(), "image/png"))],
    )
    assert still.status_code == 201, still.text
    _approve(api.admin, still.json()["id"])
    url = f"/api/projects/{project['id']}/conform"
    held = SHOTS[1][1] + SHOTS[1][0] + SHOTS[1][2]

    def cut(shot: int, version: dict[str, Any], cut_in: int = 0, cut_out: int = 10) -> dict[str, Any]:
        return _cut(shots[shot], version, cut_in, cut_out)

    edit = [
        cut(0, movies[0]),  # fine
        {**cut(0, movies[0]), "shot_id": stranger["id"]},  # another project's shot
        cut(1, movies[0]),  # the first shot's version under the second
        cut(2, unapproved),  # not approved
        cut(0, still.json()),  # a still: no movie
        cut(1, movies[1], 6, 6),  # empty
        cut(1, movies[1], 2, held + 1),  # past the movie's last frame
    ]
    refused = api.admin.post(url, json={"edit": edit})
    body = assert_problem(refused, 422)
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert list(fields) == [
        "edit[1].shot_id",
        "edit[2].version_id",
        "edit[3].version_id",
        "edit[4].version_id",
        "edit[5].cut_out",
        "edit[6].cut_out",
    ]
    assert fields["edit[1].shot_id"] == f"no shot {stranger['id']} in this project"
    assert (
        fields["edit[2].version_id"]
        == f"version {movies[0]['id']} is not a version of shot {shots[1]['code']}"
    )
    assert fields["edit[3].version_id"] == f"shot {shots[2]['code']}: render v003 is not approved"
    assert fields["edit[4].version_id"] == f"shot {shots[0]['code']}: previz v001 has no movie"
    assert fields["edit[5].cut_out"] == f"shot {shots[1]['code']}: cut_out (6) must be after cut_in (6)"
    assert fields["edit[6].cut_out"] == (
        f"shot {shots[1]['code']}: render v001 holds {held} frames; the cut runs to frame {held + 1}"
    )
    assert "edit[1].shot_id" in body["detail"] and "edit[6].cut_out" in body["detail"]
    assert_problem(
        api.admin.post(url, json={"edit": [{**cut(0, movies[0]), "cut_in": -1}]}), 422, "edit.0.cut_in"
    )
    assert_problem(api.admin.post(url, json={"edit": []}), 422, "edit")
    assert api.admin.get(f"/api/projects/{project['id']}/deliveries").json() == []  # nothing queued

    # An omitted shot's strip is refused too; without require_approval, the unapproved render is conformed.
    state = api.admin.get(f"/api/shots/{shots[3]['id']}").json()
    omitted = api.admin.patch(
        f"/api/shots/{shots[3]['id']}", json={"status": "omitted", "revision": state["revision"]}
    )
    assert omitted.status_code == 200, omitted.text
    refused = api.admin.post(
        url, json={"edit": [cut(2, unapproved), cut(3, movies[3])], "require_approval": False}
    )
    assert "is omitted" in assert_problem(refused, 422, "edit[1].shot_id")["detail"]
    queued = api.admin.post(url, json={"edit": [cut(2, unapproved, 20, 30)], "require_approval": False})
    assert queued.status_code == 201, queued.text
    assert [(p["version"], p["source_in"], p["frames"]) for p in queued.json()["plan"]] == [
        ("render v003", 20, 10)
    ]
    # A delivery's masters come from the sent edit as well.
    masters = api.admin.post(
        f"/api/projects/{project['id']}/deliveries",
        json={"formats": ["h264"], "edit": [cut(1, movies[1], 2, 12)]},
    )
    assert masters.status_code == 201, masters.text
    assert masters.json()["frames"] == 10 and masters.json()["number"] == 2


def test_the_cli_conforms_an_edit_file_and_names_what_is_wrong_with_it(api: Api, tmp_path: Path) -> None:
    project = api.project(fps=str(FPS), width=SIZE[0], height=SIZE[1])
    shot = api.shot(project["id"], api.scene(project["id"])["id"], duration_frames=12)
    movie = coded_movie(tmp_path / "m.mp4", 100, 20, str(FPS), SIZE)
    version = _publish(api.admin, shot["id"], "render", movie, "video/mp4")  # not approved
    env = cli_env(tmp_path / "config", api.base_url, api_key(api, "editor"))
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps({"edit": [_cut(shot, version, 2, 14)]}), encoding="utf-8")

    refused = aipipe("deliver", "conform", project["code"], "--edit", str(edit), env=env)
    assert refused.returncode != 0 and "edit[0].version_id" in refused.stderr, refused.stderr
    assert "render v001 is not approved" in refused.stderr
    queued = aipipe("deliver", "conform", project["code"], "--edit", str(edit), "--any-media", "--no-wait",
                    "--json", env=env)  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    delivery = json.loads(queued.stdout)
    assert (delivery["frames"], delivery["plan"][0]["source_in"]) == (12, 2)
    api.admin.post(f"/api/farm/jobs/{delivery['conform_job_id']}/cancel")  # no agent here is meant to take it
    (tmp_path / "bad.json").write_text("[{", encoding="utf-8")
    bad = aipipe("deliver", "conform", project["code"], "--edit", str(tmp_path / "bad.json"), env=env)
    assert bad.returncode != 0 and "bad.json is not JSON" in bad.stderr, bad.stderr
