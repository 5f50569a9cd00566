"""The body the add-on sends to work on a take (core.rework_body) and the mask it picks."""

from __future__ import annotations

import pytest

from blender_addon.images import core


def test_each_operation_sends_what_the_server_needs_for_it() -> None:
    assert core.rework_body("refine", "t1", "  rain  at night ", denoise=0.3) == {
        "operation": "refine",
        "source_version_id": "t1",
        "candidates": 1,
        "prompt": "rain at night",
        "denoise": 0.3,
    }
    edit = core.rework_body("edit", "t1", "make it night", reference_ids=["r1", "r2", "r1"], candidates=2)
    assert edit == {
        "operation": "edit",
        "source_version_id": "t1",
        "candidates": 2,
        "instruction": "make it night",
        "reference_version_ids": ["r1", "r2"],
    }
    inpaint = core.rework_body("inpaint", "t1", "", mask_id="m1", denoise=0.3)
    assert inpaint == {
        "operation": "inpaint",
        "source_version_id": "t1",
        "candidates": 1,
        "mask_version_id": "m1",
    }
    assert core.rework_body("outpaint", "t1", aspect=" 21 : 9")["aspect"] == "21:9"


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("blur", "t1"), {}, "operation"),
        (("edit", "t1", "  "), {}, "instruction"),
        (("inpaint", "t1"), {}, "mask_version_id"),
        (("outpaint", "t1"), {"aspect": "wide"}, "aspect"),
        (("outpaint", "t1"), {"aspect": "16:0"}, "aspect"),
        (("refine", "t1"), {"candidates": 0}, "candidates"),
    ],
)
def test_a_request_the_server_would_refuse_is_refused_naming_the_field(args, kwargs, field) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        core.rework_body(*args, **kwargs)


def test_the_mask_is_the_newest_painted_on_that_take() -> None:
    versions = [
        {"id": "m1", "stage": "mask", "number": 1, "provenance": {"source_version_id": "t1"}},
        {"id": "m3", "stage": "mask", "number": 3, "provenance": {"source_version_id": "t1"}},
        {"id": "m2", "stage": "mask", "number": 2, "provenance": {"source_version_id": "t2"}},
        {"id": "p4", "stage": "previz", "number": 4, "provenance": {"source_version_id": "t1"}},
    ]
    assert core.newest_mask_of(versions, "t1") == "m3"
    assert core.newest_mask_of(versions, "t9") == ""
