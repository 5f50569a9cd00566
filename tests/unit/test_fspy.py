"""`.fspy` project files: the header layout fSpy and its Blender importer read, and a lossless round trip to
and from our camera solution."""

from __future__ import annotations

import json
import math
import struct

import pytest

from aipipe_shared.fspy import FspyError, FspyProject, dumps, loads, project_from_solution, solution_fields

TRANSFORM = [
    [0.8660254, -0.1294095, 0.4829629, 0.0],
    [0.5, 0.2241439, -0.8365163, 0.0],
    [0.0, 0.9659258, 0.2588190, 1.6],
    [0.0, 0.0, 0.0, 1.0],
]


def _project() -> FspyProject:
    return FspyProject(
        image_width=1280,
        image_height=720,
        relative_focal=2.5,
        camera_transform=TRANSFORM,
        principal_point=(0.0, 0.0),
        vanishing_points=[(1.2, -0.1), (-3.4, 0.05)],
        vanishing_point_axes=["xPositive", "yPositive"],
        image=b"\x89PNG not really",
    )


def test_the_file_starts_with_the_header_fspy_reads() -> None:
    data = dumps(_project())
    magic, version, state_size, image_size = struct.unpack_from("<4sIII", data)
    assert (magic, version) == (b"fspy", 1)
    # fSpy's Blender importer checks the first four bytes as one little-endian uint32.
    assert struct.unpack_from("<I", data)[0] == 2037412710
    state = json.loads(data[16 : 16 + state_size])
    assert data[16 + state_size :] == b"\x89PNG not really" and image_size == len(b"\x89PNG not really")
    parameters = state["cameraParameters"]
    assert parameters["cameraTransform"]["rows"] == TRANSFORM
    assert parameters["imageWidth"] == 1280 and parameters["imageHeight"] == 720
    assert parameters["horizontalFieldOfView"] == pytest.approx(2 * math.atan(1 / 2.5))
    assert parameters["verticalFieldOfView"] == pytest.approx(2 * math.atan(0.5625 / 2.5))
    assert state["calibrationSettingsBase"]["referenceDistanceUnit"] == "Meters"
    # The view transform is the camera transform's inverse.
    view = parameters["viewTransform"]["rows"]
    for r in range(4):
        for c in range(4):
            product = sum(view[r][k] * TRANSFORM[k][c] for k in range(4))
            assert product == pytest.approx(1.0 if r == c else 0.0, abs=1e-6)


def test_bytes_round_trip_losslessly() -> None:
    project = _project()
    again = loads(dumps(project))
    assert again.image == project.image
    assert again.camera_transform == project.camera_transform
    assert again.relative_focal == project.relative_focal
    assert again.vanishing_points == project.vanishing_points
    assert dumps(again) == dumps(project)


def test_a_portrait_project_keeps_its_field_of_view_across_the_width() -> None:
    project = _project()
    project.image_width, project.image_height = 720, 1280
    assert project.horizontal_fov == pytest.approx(2 * math.atan(0.5625 / 2.5))
    assert loads(dumps(project)).horizontal_fov == pytest.approx(project.horizontal_fov)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"fsp", "16-byte header"),
        (b"PNG\x00" + bytes(12), "not an fSpy project"),
        (struct.pack("<4sIII", b"fspy", 2, 0, 0), "version 2"),
        (struct.pack("<4sIII", b"fspy", 1, 100, 0) + b"{}", "truncated"),
        (struct.pack("<4sIII", b"fspy", 1, 2, 0) + b"{}", "no camera parameters"),
        (struct.pack("<4sIII", b"fspy", 1, 3, 0) + b"{x}", "not JSON"),
    ],
)
def test_a_broken_file_is_refused_with_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(FspyError, match=message):
        loads(data)


def test_a_solver_solution_goes_to_fspy_and_back() -> None:
    np = pytest.importorskip("numpy")
    pytest.importorskip("cv2")
    from scripts.camera_set.synth import draw_boxes
    from sync_server.camera_solve import CameraSolution, solve_picture

    image = draw_boxes(width=1280, height=720, focal=2.2, pitch=10.0, roll=-4.0, yaw=35.0, seed=3)
    solution = solve_picture(image)
    dumped = solution.model_dump()
    project = loads(dumps(project_from_solution(dumped, b"jpeg bytes")))
    fields = solution_fields(project)
    assert fields["relative_focal"] == pytest.approx(solution.relative_focal)
    assert fields["horizontal_fov_deg"] == pytest.approx(solution.horizontal_fov_deg)
    assert np.allclose(fields["camera_transform"], solution.camera_transform)
    assert fields["camera_height_m"] == pytest.approx(1.6)
    finite = [p for p in solution.vanishing_points if p.plane is not None]
    assert [p["axis"] for p in fields["vanishing_points"]] == [p.axis for p in finite]
    # The fields drop back into the model unchanged.
    merged = CameraSolution.model_validate(
        {**dumped, **{k: v for k, v in fields.items() if k != "vanishing_points"}}
    )
    assert merged.relative_focal == pytest.approx(solution.relative_focal)
