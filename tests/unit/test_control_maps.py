"""Control images from render passes (no Blender): depth near = white, lines on silhouettes and folds, masks
from paint over a dimmed take, grey PNGs that Pillow reads back as written."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from blender_addon.control import maps, opsdata, png

FAR = 1e10  # what Blender's depth pass holds where nothing was hit


def _plane_and_box() -> tuple[np.ndarray, np.ndarray]:
    """A 60×80 picture: a floor plane tilting away (depth 5 at the bottom row to 15 at row 10), sky above
    row 10, and a box at depth 4 in rows 30-44, columns 20-49 whose upper half faces another way."""
    depth = np.full((60, 80), FAR, np.float32)
    rows = np.arange(10, 60)
    # Inverse depth is affine across a plane in the picture: 1/z runs linearly from 1/15 to 1/5.
    inverse = 1 / 15 + (rows - 10) / 49 * (1 / 5 - 1 / 15)
    depth[10:] = (1 / inverse)[:, None]
    depth[30:45, 20:50] = 4.0
    normals = np.zeros((60, 80, 3), np.float32)
    normals[10:] = (0.5, 0.9, 0.5)  # the floor faces up
    normals[30:45, 20:50] = (0.5, 0.5, 1.0)  # the box's front faces the camera
    normals[30:37, 20:50] = (0.5, 0.95, 0.6)  # its top face, folded away
    return depth, normals


def test_depth_is_white_near_black_far_and_black_where_nothing_was_hit() -> None:
    depth, _ = _plane_and_box()
    grey = maps.depth_map(depth)
    assert grey.dtype == np.uint8 and grey.shape == (60, 80)
    assert grey[35, 30] == 255  # the box is the nearest surface
    assert grey[10, 5] == 0  # the far edge of the floor
    assert grey[:10].max() == 0  # sky
    assert grey[59, 5] > grey[40, 5] > grey[20, 5] > 0  # the floor darkens away from the camera


def test_depth_in_16_bits_spans_the_full_range() -> None:
    depth, _ = _plane_and_box()
    grey = maps.depth_map(depth, bits=16)
    assert grey.dtype == np.uint16 and grey.max() == 65535 and grey[10:].min() == 0
    with pytest.raises(ValueError, match="bits"):
        maps.depth_map(depth, bits=12)


def test_depth_of_an_empty_view_is_black_and_of_one_flat_wall_is_white() -> None:
    assert maps.depth_map(np.full((4, 4), FAR, np.float32)).max() == 0
    assert (maps.depth_map(np.full((4, 4), 3.0, np.float32)) == 255).all()


def test_lines_follow_silhouettes_and_folds_not_the_flat_floor() -> None:
    depth, normals = _plane_and_box()
    lines = maps.line_map(depth, normals)
    assert lines.dtype == np.uint8 and set(np.unique(lines)) <= {0, 255}
    assert lines[28:32, 35].max() == 255  # the box's top edge against the floor
    assert lines[37, 18:22].max() == 255  # its left side
    assert lines[9:12, 60].max() == 255  # the floor's far edge against the sky
    assert lines[35:38, 35].max() == 255  # the fold between the box's top and front
    assert lines[15:26, 55:75].max() == 0  # open floor: no lines although its depth changes
    assert lines[40:43, 25:45].max() == 0  # the inside of the front face
    assert lines[:8].max() == 0  # sky
    assert (lines > 0).mean() < 0.15


def test_lines_without_normals_still_draw_the_silhouettes() -> None:
    depth, _ = _plane_and_box()
    lines = maps.line_map(depth)
    assert lines[28:32, 35].max() == 255 and lines[35:38, 35].max() == 0


def test_a_mask_keeps_the_white_paint_and_drops_the_dimmed_take() -> None:
    take = np.random.default_rng(7).random((20, 30, 4)).astype(np.float32)
    start = maps.dim(take)
    assert start[..., :3].max() <= maps.SHOWN + 1e-6 < maps.DIM and (start[..., 3] == 1).all()
    start[5:10, 10:20, :3] = 1.0  # white paint
    start[10, 10:20, :3] = maps.DIM + 0.5 * (1 - maps.DIM)  # a soft stroke edge, half way
    mask = maps.mask_map(start, maps.DIM)
    assert (mask[5:10, 10:20] == 255).all()
    assert mask[10, 15] == pytest.approx(128, abs=2)
    assert mask[11:].max() == 0 and mask[:5].max() == 0


def test_a_plain_black_and_white_mask_is_read_as_it_is() -> None:
    pixels = np.zeros((8, 8, 3), np.float32)
    pixels[2:4] = 1.0
    pixels[6] = 0.5
    mask = maps.mask_map(pixels)
    assert (mask[2:4] == 255).all() and mask[0].max() == 0 and mask[6, 0] == 128
    with pytest.raises(ValueError, match="floor"):
        maps.mask_map(pixels, 1.0)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grey_png_reads_back_with_pillow_as_written(tmp_path, dtype) -> None:
    top = np.iinfo(dtype).max
    pixels = (np.arange(7 * 13).reshape(7, 13) * 997 % (top + 1)).astype(dtype)
    path = png.write_grey(str(tmp_path / "sub" / "grey.png"), pixels)
    with Image.open(path) as image:
        assert image.size == (13, 7)
        assert image.mode == ("L" if dtype == np.uint8 else "I;16")
        assert (np.array(image) == pixels).all()
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["grey.png"]  # no partial file left


def test_grey_png_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(ValueError, match="uint8 or uint16"):
        png.encode_grey(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="uint8 or uint16"):
        png.encode_grey(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="one pixel"):
        png.encode_grey(np.zeros((0, 3), np.uint8))
    Image.open(io.BytesIO(png.encode_grey(np.zeros((1, 1), np.uint8)))).verify()


def test_upload_fields_name_the_stage_and_the_metadata() -> None:
    fields = opsdata.control_fields("depth", 1001, "CAM")
    assert fields["stage"] == "control"
    assert json.loads(fields["provenance"]) == {
        "control_kind": "depth",
        "frame": 1001,
        "camera": "CAM",
        "source": "blender",
    }
    mask = opsdata.mask_fields("take-1", "sky only")
    assert mask["stage"] == "mask" and json.loads(mask["provenance"]) == {"source_version_id": "take-1"}
    assert mask["comment"] == "sky only"
    with pytest.raises(ValueError, match="control kind"):
        opsdata.control_fields("normal", 1, "CAM")
    with pytest.raises(ValueError, match="source_version_id"):
        opsdata.mask_fields("")


def test_the_picture_of_a_take_is_its_image_file() -> None:
    version = {"files": [{"name": "notes.txt"}, {"name": "SHT_0010_previz_v003.PNG", "url": "/f"}]}
    assert opsdata.picture_of(version) == {"name": "SHT_0010_previz_v003.PNG", "url": "/f"}
    assert opsdata.picture_of({"files": [{"name": "a.mp4"}]}) is None
    assert opsdata.cache_name({"sha256": "ab" * 32, "name": "../x.png"}) == "abababababababab_x.png"
    take = {"version": {"id": "x", "code": "v003"}, "verdict": "approve", "is_first_frame": True}
    assert opsdata.take_label(take) == "v003 · approve · first frame"
    assert opsdata.take_label({"version": {"id": "x", "code": "v004"}, "verdict": None}) == "v004"
    assert opsdata.reference_label({"name": "rina.png", "width": 512, "height": 768}) == "rina.png (512×768)"
