"""The camera of an image version over real HTTP (SQLite and PostgreSQL): solved from a picture drawn from a
known camera, stored on the version so a second artist reads the same camera, exported and imported as .fspy,
bad input refused naming the field."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from aipipe_shared import fspy
from scripts.camera_set.synth import draw_boxes
from sync_server.camera_solve.lines import ImageFrame
from tests.support.api import Api, assert_problem

WIDTH, HEIGHT = 960, 540
LENS_MM, PITCH, ROLL, YAW = 28.0, 6.0, -3.0, 25.0


def _picture(width: int = WIDTH, height: int = HEIGHT, manhattan: bool = True) -> bytes:
    focal = LENS_MM / 36.0 * width / (max(width, height) / 2.0)
    image = draw_boxes(
        width=width, height=height, focal=focal, pitch=PITCH, roll=ROLL, yaw=YAW, seed=3, manhattan=manhattan
    )
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def _publish(client: httpx.Client, shot_id: str, data: bytes, name: str = "first.png", stage: str = "previz"):
    mime = "image/png" if name.endswith(".png") else "application/json"
    response = client.post(
        f"/api/shots/{shot_id}/versions",
        data={"stage": stage, "provenance": json.dumps({})},
        files={"files": (name, data, mime)},
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def frame(api: Api) -> dict[str, Any]:
    """A shot and its first frame: a picture of boxes from a 28 mm camera (pitch 6°, roll −3°, yaw 25°)."""
    project = api.project(width=1920, height=1080)
    scene = api.scene(project["id"])
    shot = api.shot(project["id"], scene["id"])
    version = _publish(api.admin, shot["id"], _picture())
    return {"shot": shot, "version": version, "project": project}


def test_a_solved_camera_is_the_pictures_and_every_artist_reads_the_same(api: Api, frame) -> None:
    vid = frame["version"]["id"]
    artist = api.user("artist")
    solved = artist.post(f"/api/versions/{vid}/camera-solve", json={})
    assert solved.status_code == 200, solved.text
    body = solved.json()
    camera = body["solution"]
    assert body["source"] == "solve" and body["solver_version"].startswith("camera-solve")
    assert body["image_sha256"] == frame["version"]["files"][0]["sha256"]
    assert camera["accepted"] and camera["case"] in ("two_point", "three_point")
    assert camera["image_width"] == WIDTH and camera["image_height"] == HEIGHT
    assert camera["focal_mm"] == pytest.approx(LENS_MM, rel=0.05)
    assert camera["pitch_deg"] == pytest.approx(PITCH, abs=0.5)
    assert camera["roll_deg"] == pytest.approx(ROLL, abs=0.5)
    assert camera["camera_height_m"] == pytest.approx(1.6)
    assert camera["lines"] and camera["vanishing_points"]

    other = api.user("artist")
    stored = other.get(f"/api/versions/{vid}/camera-solve")
    assert stored.status_code == 200, stored.text
    assert stored.json() == body  # the same camera, byte for byte, for everyone
    assert stored.json()["created_by"] != ""


def test_a_held_focal_length_and_a_known_ground_length_are_honoured(api: Api, frame) -> None:
    vid = frame["version"]["id"]
    held = api.admin.post(f"/api/versions/{vid}/camera-solve", json={"focal_mm": 40.0, "eye_height_m": 2.5})
    assert held.status_code == 200, held.text
    camera = held.json()["solution"]
    assert camera["focal_mm"] == pytest.approx(40.0) and camera["camera_height_m"] == pytest.approx(2.5)
    assert held.json()["inputs"] == {"focal_mm": 40.0, "eye_height_m": 2.5}
    # A length on the ground: two points below the horizon, 3 m apart, scale the camera height.
    ground = {"a": [300.0, 500.0], "b": [700.0, 480.0], "length_m": 3.0}
    scaled = api.admin.post(f"/api/versions/{vid}/camera-solve", json={"ground_length": ground})
    assert scaled.status_code == 200, scaled.text
    first = scaled.json()["solution"]["camera_height_m"]
    doubled = api.admin.post(
        f"/api/versions/{vid}/camera-solve", json={"ground_length": {**ground, "length_m": 6.0}}
    )
    height = doubled.json()["solution"]
    assert height["camera_height_m"] == pytest.approx(2 * first, rel=1e-6) and first > 0
    assert height["camera_transform"][2][3] == pytest.approx(height["camera_height_m"])
    # The newest solve is the stored one.
    assert api.admin.get(f"/api/versions/{vid}/camera-solve").json()["solution"] == height


def test_fspy_export_opens_as_the_same_camera_and_an_import_becomes_the_versions_camera(
    api: Api, frame
) -> None:
    vid = frame["version"]["id"]
    solved = api.admin.post(f"/api/versions/{vid}/camera-solve", json={}).json()["solution"]
    exported = api.admin.get(f"/api/versions/{vid}/camera-solve.fspy")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-disposition"].endswith('.fspy"')
    project = fspy.loads(exported.content)
    assert (project.image_width, project.image_height) == (WIDTH, HEIGHT)
    assert project.relative_focal == pytest.approx(solved["relative_focal"])
    assert project.image == _picture()  # the picture travels with the camera
    # fSpy's own saved state, which the fSpy application reads on load: two-point mode, the sensor, and
    # control line pairs that meet at the solved camera's first two vanishing points
    state = project.state()
    settings = state["calibrationSettingsBase"]
    assert state["globalSettings"]["calibrationMode"] == "TwoVanishingPoints"
    assert settings["cameraData"]["customSensorWidth"] == pytest.approx(solved["sensor_width_mm"])
    assert settings["cameraData"]["customSensorHeight"] == pytest.approx(
        solved["sensor_width_mm"] * HEIGHT / WIDTH
    )
    assert [settings["firstVanishingPointAxis"], settings["secondVanishingPointAxis"]] == (
        project.vanishing_point_axes[:2]
    )
    pairs = (
        state["controlPointsStateBase"]["firstVanishingPoint"],
        state["controlPointsState2VP"]["secondVanishingPoint"],
    )
    for pair, point in zip(pairs, project.vanishing_points[:2], strict=True):
        (a, b), (c, d) = (
            [fspy.relative_to_plane(p, WIDTH, HEIGHT) for p in seg] for seg in pair["lineSegments"]
        )
        cross = lambda u, v: u[0] * v[1] - u[1] * v[0]  # noqa: E731
        r, s_ = (b[0] - a[0], b[1] - a[1]), (d[0] - c[0], d[1] - c[1])
        t = cross((c[0] - a[0], c[1] - a[1]), s_) / cross(r, s_)
        assert (a[0] + t * r[0], a[1] + t * r[1]) == pytest.approx(point, abs=1e-6)

    # fSpy's own edit (say the artist moved the camera up): imported, it is the version's camera.
    project.camera_transform[2][3] = 3.0
    imported = api.user("artist").put(
        f"/api/versions/{vid}/camera-solve.fspy",
        content=fspy.dumps(project),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert body["source"] == "fspy" and body["solver_version"] == "fspy"
    camera = body["solution"]
    assert camera["camera_height_m"] == pytest.approx(3.0)
    assert camera["focal_mm"] == pytest.approx(solved["focal_mm"], rel=1e-6)
    assert camera["pitch_deg"] == pytest.approx(solved["pitch_deg"], abs=1e-6)
    assert camera["roll_deg"] == pytest.approx(solved["roll_deg"], abs=1e-6)
    assert camera["yaw_deg"] == pytest.approx(solved["yaw_deg"], abs=1e-6)
    assert api.admin.get(f"/api/versions/{vid}/camera-solve").json() == body
    # and back out again: the round trip keeps the camera
    again = fspy.loads(api.admin.get(f"/api/versions/{vid}/camera-solve.fspy").content)
    assert np.allclose(again.camera_transform, project.camera_transform)
    assert again.relative_focal == pytest.approx(project.relative_focal)


def test_a_picture_without_perspective_falls_back_to_the_preset_and_says_why(api: Api, frame) -> None:
    version = _publish(api.admin, frame["shot"]["id"], _picture(manhattan=False), name="blobs.png")
    answer = api.admin.post(f"/api/versions/{version['id']}/camera-solve", json={"preset_focal_mm": 50.0})
    assert answer.status_code == 200, answer.text
    camera = answer.json()["solution"]
    assert not camera["accepted"] and camera["refusals"] and camera["refusal_text"]
    assert camera["focal_source"] == "preset" and camera["focal_mm"] == pytest.approx(50.0)


def test_no_camera_yet_is_404_naming_the_version(api: Api, frame) -> None:
    version = _publish(api.admin, frame["shot"]["id"], _picture(), name="unsolved.png")
    assert_problem(api.admin.get(f"/api/versions/{version['id']}/camera-solve"), 404, "version_id")
    assert_problem(api.admin.get(f"/api/versions/{version['id']}/camera-solve.fspy"), 404, "version_id")


def test_bad_input_is_refused_naming_the_field(api: Api, frame) -> None:
    vid = frame["version"]["id"]
    post = api.admin.post
    assert_problem(post(f"/api/versions/{vid}/camera-solve", json={"focal_mm": -5}), 422, "focal_mm")
    assert_problem(
        post(
            f"/api/versions/{vid}/camera-solve",
            json={"ground_length": {"a": [1, 2], "b": [3], "length_m": 1}},
        ),
        422,
        "ground_length.b",
    )
    both = {"eye_height_m": 1.7, "ground_length": {"a": [300, 500], "b": [700, 480], "length_m": 3}}
    assert_problem(post(f"/api/versions/{vid}/camera-solve", json=both), 422, "ground_length")
    # Points above the horizon are not on the ground.
    sky = {"ground_length": {"a": [300, 5], "b": [700, 8], "length_m": 3}}
    assert_problem(post(f"/api/versions/{vid}/camera-solve", json=sky), 422, "ground_length")
    # A version without a picture.
    notes = _publish(api.admin, frame["shot"]["id"], b'{"a": 1}', name="notes.json", stage="layout")
    assert_problem(post(f"/api/versions/{notes['id']}/camera-solve", json={}), 422, "version_id")
    assert_problem(post("/api/versions/00000000-0000-0000-0000-000000000000/camera-solve", json={}), 404)
    # An upload that is no fSpy project, or one for another picture size.
    put = api.admin.put
    url = f"/api/versions/{vid}/camera-solve.fspy"
    assert_problem(put(url, content=b"not an fspy file"), 422, "file")
    assert_problem(put(url, content=b""), 422, "file")
    wrong = fspy.FspyProject(
        image_width=640,
        image_height=480,
        relative_focal=1.5,
        camera_transform=[[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 1.6], [0, 0, 0, 1]],
    )
    assert_problem(put(url, content=fspy.dumps(wrong)), 422, "file")
    # Readers (a wrangler) may look but not change the camera (solved here: this test may run alone, or on
    # another xdist worker than the module's other tests, with a frame of its own).
    assert api.admin.post(f"/api/versions/{vid}/camera-solve", json={}).status_code == 200
    viewer = api.user("wrangler")
    assert viewer.get(f"/api/versions/{vid}/camera-solve").status_code == 200
    assert_problem(viewer.post(f"/api/versions/{vid}/camera-solve", json={}), 403)
    assert_problem(viewer.put(url, content=b"x"), 403)


def test_a_held_horizon_runs_through_the_artists_points_and_keeps_the_heading(api: Api, frame) -> None:
    vid = frame["version"]["id"]
    free = api.admin.post(f"/api/versions/{vid}/camera-solve", json={}).json()["solution"]
    held = {"a": [0.0, 180.0], "b": [959.0, 300.0]}  # tilted further and lower than the picture's
    answer = api.admin.post(f"/api/versions/{vid}/camera-solve", json={"horizon": held})
    assert answer.status_code == 200, answer.text
    assert answer.json()["inputs"] == {"horizon": held}
    camera = answer.json()["solution"]
    a, b, c = camera["horizon"]["plane_line"]
    for x, y in ImageFrame(WIDTH, HEIGHT).to_plane(np.array([held["a"], held["b"]])):
        assert abs(a * x + b * y + c) < 1e-6  # the horizon is the artist's line
    assert (
        abs(camera["roll_deg"] - free["roll_deg"]) > 2.0
        and abs(camera["pitch_deg"] - free["pitch_deg"]) > 2.0
    )
    assert camera["yaw_deg"] == pytest.approx(free["yaw_deg"], abs=3.0)
    assert camera["focal_mm"] == pytest.approx(free["focal_mm"], rel=1e-6)
    rotation = np.array(camera["camera_to_scene"])
    assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-9) and np.linalg.det(
        rotation
    ) == pytest.approx(1)
    same = {"horizon": {"a": [10, 10], "b": [10, 10]}}
    assert_problem(api.admin.post(f"/api/versions/{vid}/camera-solve", json=same), 422, "horizon")


def _crosses(point: list[float], a: list[float], b: list[float]) -> float:
    """Distance in pixels of `point` from the line through `a` and `b`."""
    (ax, ay), (bx, by), (px, py) = a, b, point
    return abs((bx - ax) * (py - ay) - (by - ay) * (px - ax)) / math.hypot(bx - ax, by - ay)


def test_held_vanishing_lines_turn_the_camera_so_the_axis_vanishes_where_they_meet(api: Api, frame) -> None:
    vid = frame["version"]["id"]
    free = api.admin.post(f"/api/versions/{vid}/camera-solve", json={}).json()["solution"]
    point = next(p for p in free["vanishing_points"] if p["axis"] == "x" and p["pixel"] is not None)
    # The artist says X vanishes 120 px lower than the solve put it: two lines drawn towards that point.
    target = [point["pixel"][0], point["pixel"][1] + 120.0]
    lines = [
        {
            "axis": "x",
            "a": start,
            "b": [start[0] + 0.3 * (target[0] - start[0]), start[1] + 0.3 * (target[1] - start[1])],
        }
        for start in ([640.0, 200.0], [600.0, 600.0])
    ]
    answer = api.admin.post(f"/api/versions/{vid}/camera-solve", json={"vanishing_lines": lines})
    assert answer.status_code == 200, answer.text
    camera = answer.json()["solution"]
    moved = next(p for p in camera["vanishing_points"] if p["axis"] == "x")["pixel"]
    for line in lines:
        assert _crosses(moved, line["a"], line["b"]) < 0.5  # X vanishes on each of the artist's lines
    assert math.dist(moved, target) < 1.0
    assert camera["focal_mm"] == pytest.approx(free["focal_mm"], rel=1e-6)  # only the rotation moved
    rotation = np.array(camera["camera_to_scene"])
    assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(rotation) == pytest.approx(1)
    assert answer.json()["inputs"]["vanishing_lines"] == lines
    # A line whose two points are one point is refused naming it.
    same = {"vanishing_lines": [{"axis": "y", "a": [10, 10], "b": [10, 10]}]}
    body = assert_problem(
        api.admin.post(f"/api/versions/{vid}/camera-solve", json=same), 422, "vanishing_lines"
    )
    assert "vanishing_lines[0]" in body["detail"]


def test_artists_solving_one_version_at_once_all_get_an_answer_and_one_camera_is_kept(
    api: Api, frame
) -> None:
    version = _publish(api.admin, frame["shot"]["id"], _picture(), name="busy.png")
    url = f"/api/versions/{version['id']}/camera-solve"
    clients = [api.client() for _ in range(3)]
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            answers = list(
                pool.map(
                    lambda pair: pair[0].post(url, json={"focal_mm": pair[1]}),
                    zip(clients, (30, 40, 50), strict=True),
                )
            )
    finally:
        for client in clients:
            client.close()
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    kept = api.admin.get(url).json()
    assert kept["solution"]["focal_mm"] in (30.0, 40.0, 50.0)
    assert kept in [a.json() for a in answers]  # the last one stored
