"""A playblast job's params are checked before anything runs, and the command never goes through a shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from render_agent.cpu_jobs import CpuJobError
from render_agent.playblast_job import blender_command, plan_playblast


def job(**params: object) -> dict[str, object]:
    return {"type": "playblast", "params": {"blend_url": "/api/versions/v/files/f", **params}}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"blend_url": ""}, "params.blend_url"),
        ({"output_name": "../escape.mp4"}, "params.output_name"),
        ({"output_name": "movie.mov"}, "params.output_name"),
        ({"start": "1001"}, "params.start"),
        ({"start": 1010, "end": 1001}, "params.end"),
        ({"artist": 7}, "params.artist"),
    ],
)
def test_bad_params_are_refused_naming_the_field_and_are_not_retried(params: dict, field: str) -> None:
    with pytest.raises(CpuJobError) as refused:
        plan_playblast(job(**params))
    assert str(refused.value).startswith(field) and refused.value.retryable is False


def test_the_command_runs_the_extension_headless_in_a_python_with_bpy_or_in_blender(tmp_path: Path) -> None:
    plan = plan_playblast(job(shot="SHT_0010", version="layout v003", artist="리나", start=1001, end=1072))
    blend, out = tmp_path / "in.blend", tmp_path / "out" / "playblast.mp4"
    python = blender_command("/opt/venv/bin/python3.11", plan, blend, out)
    assert python[:3] == ["/opt/venv/bin/python3.11", "-m", "blender_addon.playblast"]
    assert python[3] == str(blend) and python[python.index("--output") + 1] == str(out)
    assert python[python.index("--artist") + 1] == "리나"  # one argument, spaces and all: no shell
    assert python[python.index("--version") + 1] == "layout v003"
    binary = blender_command("/Applications/Blender.app/Contents/MacOS/Blender", plan, blend, out)
    assert binary[1:3] == ["-b", "--factory-startup"] and "--python-expr" in binary
    assert '"리나"' in binary[-1]
