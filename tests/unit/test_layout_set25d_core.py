"""The 2.5D set's math (layout/set25d_core.py), no bpy: rays, the ground-fixed scale, the grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blender_addon.layout import set25d_core as core

W, H = 320, 180


def _rotation(pitch_deg: float) -> np.ndarray:
    """Camera-to-scene rotation of a camera looking along +Y, tilted up by `pitch_deg` (Blender's
    rotation_euler (90° + pitch, 0, 0))."""
    a = math.radians(90.0 + pitch_deg)
    return np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])


def _scene_depth(intr: core.Intrinsics, rotation: np.ndarray, camera_z: float, wall_y: float) -> np.ndarray:
    """True planar depth of every pixel centre: the ground Z = 0 and a wall at Y = `wall_y`."""
    gx, gy = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    ground = core.ground_depth(intr, rotation, camera_z, gx, gy)
    forward = (core.rays(intr, gx, gy) @ rotation.T)[..., 1]
    wall = np.where(forward > 0, wall_y / np.maximum(forward, 1e-12), np.inf)
    return np.minimum(ground, wall)


def _encode(depth: np.ndarray, encoding: str) -> np.ndarray:
    """Relative depth, min-max normalised, near = 1 (as an estimator's image is)."""
    model = depth if encoding == "depth" else 1.0 / depth
    near, far = (model.min(), model.max()) if encoding == "depth" else (model.max(), model.min())
    return (model - far) / (near - far)


def test_rays_and_projection_are_inverse_and_follow_blender_shift_and_fit() -> None:
    intr = core.intrinsics(35.0, 36.0, 24.0, "HORIZONTAL", 0.1, -0.05, W, H)
    assert intr.focal_px == pytest.approx(35.0 / 36.0 * W)
    assert intr.cx == pytest.approx(W / 2 - 0.1 * W) and intr.cy == pytest.approx(H / 2 - 0.05 * W)
    x, y = np.array([0.0, 17.5, W]), np.array([H, 3.0, 90.0])
    px, py, depth = core.project(intr, core.rays(intr, x, y) * 7.0)
    np.testing.assert_allclose(px, x, atol=1e-9)
    np.testing.assert_allclose(py, y, atol=1e-9)
    np.testing.assert_allclose(depth, 7.0)
    portrait = core.intrinsics(50.0, 36.0, 24.0, "AUTO", 0.0, 0.0, 180, 320)  # AUTO: the longer side
    assert portrait.focal_px == pytest.approx(50.0 / 36.0 * 320)
    vertical = core.intrinsics(50.0, 36.0, 24.0, "VERTICAL", 0.0, 0.0, W, H)
    assert vertical.focal_px == pytest.approx(50.0 / 24.0 * H)


def test_ground_depth_and_horizon() -> None:
    intr = core.intrinsics(28.0, 36.0, 24.0, "HORIZONTAL", 0.0, 0.0, W, H)
    level = _rotation(0.0)
    assert core.horizon_row(intr, level, 10.0) == pytest.approx(H / 2)
    below = core.ground_depth(intr, level, 1.6, np.array([W / 2]), np.array([H / 2 + 20]))
    assert below[0] == pytest.approx(1.6 * intr.focal_px / 20)  # similar triangles
    assert np.isinf(core.ground_depth(intr, level, 1.6, np.array([5.0]), np.array([H / 2 - 1]))).all()
    down = _rotation(-10.0)
    assert core.horizon_row(intr, down, W / 2) == pytest.approx(
        H / 2 - intr.focal_px * math.tan(math.radians(10))
    )
    with pytest.raises(ValueError, match="above the ground"):
        core.ground_depth(intr, level, -0.5, np.array([1.0]), np.array([1.0]))


@pytest.mark.parametrize("encoding", core.ENCODINGS)
def test_scale_from_the_ground_puts_every_pixel_at_its_depth(encoding: str) -> None:
    intr = core.intrinsics(24.0, 36.0, 24.0, "HORIZONTAL", 0.0, 0.02, W, H)
    rotation = _rotation(-12.0)
    truth = _scene_depth(intr, rotation, 1.6, 9.0)
    image = _encode(truth, encoding)
    scale = core.ground_scale(intr, image, rotation, 1.6, encoding)
    assert scale.method == "ground" and scale.samples >= core.MIN_SAMPLES
    assert scale.residual < 0.01
    np.testing.assert_allclose(scale.depth(image), truth, rtol=0.01)


def test_the_fit_ignores_a_prop_standing_in_the_ground_band() -> None:
    intr = core.intrinsics(24.0, 36.0, 24.0, "HORIZONTAL", 0.0, 0.0, W, H)
    rotation = _rotation(-15.0)
    truth = _scene_depth(intr, rotation, 1.6, 9.0)
    truth[120:, 100:160] = np.minimum(truth[120:, 100:160], 3.0)  # a box's face in the bottom band
    image = _encode(truth, "inverse")
    scale = core.ground_scale(intr, image, rotation, 1.6, "inverse")
    assert scale.method == "ground"
    assert scale.depth(image)[150, 130] == pytest.approx(3.0, rel=0.02)
    assert scale.depth(image)[60, 10] == pytest.approx(truth[60, 10], rel=0.02)


def test_no_ground_in_view_falls_back_to_the_assumed_scale() -> None:
    intr = core.intrinsics(35.0, 36.0, 24.0, "HORIZONTAL", 0.0, 0.0, W, H)
    image = np.tile(np.linspace(1.0, 0.0, H)[:, None], (1, W))
    scale = core.ground_scale(intr, image, _rotation(40.0), 1.6, "depth")  # looking up: no ground
    assert scale.method == "assumed"
    assert scale.depth(np.array([1.0, 0.0])) == pytest.approx([1.6, core.FAR_FACTOR * 1.6])
    far_is_white = core.fit_scale(np.linspace(0, 1, 50), np.linspace(1, 20, 50), "inverse", 1.6)
    assert far_is_white.method == "assumed"
    with pytest.raises(ValueError, match="encoding"):
        core.fit_scale(np.zeros(3), np.ones(3), "disparity", 1.6)


def test_grid_vertices_sit_on_their_rays_at_the_sampled_depth() -> None:
    intr = core.intrinsics(35.0, 36.0, 24.0, "HORIZONTAL", 0.0, 0.0, W, H)
    image = np.tile(np.linspace(0.2, 0.9, W)[None, :], (H, 1))
    scale = core.DepthScale("inverse", 0.5, 0.01, 300.0, "ground")
    geometry = core.build_geometry(intr, image, scale, columns=32)
    across, down = core.grid_size(intr, 32)
    assert geometry.vertices.shape == (across * down, 3) and geometry.faces.shape == (
        (across - 1) * (down - 1),
        4,
    )
    px, py, depth = core.project(intr, geometry.vertices)
    np.testing.assert_allclose(np.stack([px, py], -1), geometry.pixels, atol=1e-6)
    np.testing.assert_allclose(depth, geometry.depths)
    np.testing.assert_allclose(geometry.uvs[0], [0.0, 1.0])  # the top-left corner
    np.testing.assert_allclose(geometry.uvs[-1], [1.0, 0.0])
    # Faces wind counter-clockwise as the camera sees them: their normals face the camera (+z).
    a, b, c = (geometry.vertices[geometry.faces[:, i]] for i in range(3))
    normals = np.cross(b - a, c - a)
    assert (np.einsum("ij,ij->i", normals, -a) > 0).all()


def test_tear_splits_the_set_at_a_silhouette() -> None:
    intr = core.intrinsics(35.0, 36.0, 24.0, "HORIZONTAL", 0.0, 0.0, W, H)
    image = np.full((H, W), 0.1)
    image[:, : W // 2] = 0.9  # a near half and a far half
    scale = core.DepthScale("inverse", 1.0, 0.02, 300.0, "ground")
    whole = core.build_geometry(intr, image, scale, columns=16)
    torn = core.build_geometry(intr, image, scale, columns=16, tear=1.5)
    across, down = core.grid_size(intr, 16)
    # The vertex on the jump samples between the halves: the two columns of quads beside it are left out.
    assert len(whole.faces) - len(torn.faces) == 2 * (down - 1)
    kept = torn.pixels[torn.faces].mean(axis=1)[:, 0]
    assert not ((kept > W / 2 - W / 16) & (kept < W / 2 + W / 16)).any()
