"""A control_image job's params are checked before anything runs, and the command never goes through a
shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from render_agent.control_image_job import control_image_command, plan_control_image
from render_agent.cpu_jobs import CpuJobError


def job(**params: object) -> dict[str, object]:
    return {
        "type": "control_image",
        "params": {"blend_url": "/api/versions/v/files/f", "kind": "depth", **params},
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"blend_url": ""}, "params.blend_url"),
        ({"kind": "normal"}, "params.kind"),
        ({"output_name": "../escape.png"}, "params.output_name"),
        ({"output_name": "depth.exr"}, "params.output_name"),
        ({"frame": "1001"}, "params.frame"),
        ({"frame": True}, "params.frame"),
        ({"bits": 12}, "params.bits"),
        ({"scene": 7}, "params.scene"),
    ],
)
def test_bad_params_are_refused_naming_the_field_and_are_not_retried(params: dict, field: str) -> None:
    with pytest.raises(CpuJobError) as refused:
        plan_control_image(job(**params))
    assert str(refused.value).startswith(field) and refused.value.retryable is False


def test_the_command_runs_the_extension_headless_in_a_python_with_bpy_or_in_blender(tmp_path: Path) -> None:
    plan = plan_control_image(job(kind="pose", scene="SHT_0010 layout", frame=1001, bits=16))
    assert plan.output_name == "control_pose.png"
    blend, out = tmp_path / "in.blend", tmp_path / "out" / "pose.png"
    python = control_image_command("/opt/venv/bin/python3.11", plan, blend, out)
    assert python[:3] == ["/opt/venv/bin/python3.11", "-m", "blender_addon.control"]
    assert python[3] == str(blend) and python[python.index("--output") + 1] == str(out)
    assert python[python.index("--kind") + 1] == "pose" and python[python.index("--frame") + 1] == "1001"
    assert python[python.index("--scene") + 1] == "SHT_0010 layout"  # one argument, spaces and all
    assert python[python.index("--bits") + 1] == "16"
    binary = control_image_command("/Applications/Blender.app/Contents/MacOS/Blender", plan, blend, out)
    assert binary[1:3] == ["-b", "--factory-startup"] and "--python-expr" in binary
    assert "blender_addon.control.__main__" in binary[-1] and '"SHT_0010 layout"' in binary[-1]
