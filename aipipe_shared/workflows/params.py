"""Checks of bound parameters that need no agent: the sidecar's rules (frame counts a model accepts, size
steps) and what every h264 output needs (even width and height). What fails here fails on every agent."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .model import ParamRule, WorkflowTemplate

H264_SAVERS = frozenset({"SaveVideo"})  # core ComfyUI: h264 (libx264) in yuv420p, codec "auto" included
H264_CODECS = frozenset({"auto", "h264"})
EVEN = ParamRule(multiple_of=2, why="h264 (libx264, yuv420p) needs an even width and height")


def rules_of(template: WorkflowTemplate) -> list[tuple[str, ParamRule]]:
    """`(role, rule)`: the sidecar's rules, plus even width and height when an output is an h264 video."""
    rules = list(template.meta.rules.items())
    if _writes_h264(template):
        rules += [("width", EVEN), ("height", EVEN)]
    return rules


def check_params(template: WorkflowTemplate, graph: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`(role, message)` for every bound value the workflow cannot take (read from the bound graph, so the
    template's defaults are checked too); one message per role."""
    problems: dict[str, str] = {}
    for role, rule in rules_of(template):
        targets = template.meta.bindings.get(role)  # type: ignore[call-overload]
        if not targets or role in problems:
            continue
        node_id, input_name = targets[0]
        value = graph.get(node_id, {}).get("inputs", {}).get(input_name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # a link or a text: nothing to check here
        message = broken(rule, value)
        if message is not None:
            problems[role] = f"{role} {value:g} {message}"
    return list(problems.items())


def broken(rule: ParamRule, value: float) -> str | None:
    """Why `value` breaks `rule`, or None."""
    why = f" ({rule.why})" if rule.why else ""
    if rule.min is not None and value < rule.min:
        return f"is below {rule.min:g}{why}"
    if rule.max is not None and value > rule.max:
        return f"is above {rule.max:g}{why}"
    if rule.multiple_of > 1 and (value != int(value) or int(value) % rule.multiple_of != rule.remainder):
        step, rest = rule.multiple_of, rule.remainder
        shape = f"{step}k+{rest}" if rest else f"a multiple of {step}"
        return f"is not {shape}{why}"
    return None


def snap(rules: list[tuple[str, ParamRule]], role: str, value: int) -> int:
    """The nearest value at or below `value` that every rule of `role` accepts (min and max aside)."""
    for _ in range(64):
        bad = [r for name, r in rules if name == role and value % r.multiple_of != r.remainder]
        if not bad:
            return value
        step, rest = bad[0].multiple_of, bad[0].remainder
        value = (value - rest) // step * step + rest if value > step else step + rest
    return value


def _writes_h264(template: WorkflowTemplate) -> bool:
    for node_id in template.meta.outputs:
        node = template.graph.get(node_id) or {}
        if node.get("class_type") in H264_SAVERS:
            codec = (node.get("inputs") or {}).get("codec", "auto")
            if not isinstance(codec, str) or codec in H264_CODECS:
                return True
    return False


def outpaint_pads(width: int, height: int, aspect: str, step: int = 8) -> dict[str, int]:
    """`pad_left/top/right/bottom` that grow a `width` x `height` picture to the aspect ratio `"W:H"` (e.g.
    `"16:9"`, `"2.39:1"`), centred, each pad a multiple of `step`, the result at least that wide (or tall).
    Raises ValueError naming the aspect when it is not two positive numbers."""
    try:
        ratio_w, ratio_h = (float(part) for part in aspect.split(":"))
    except ValueError:
        raise ValueError(f"aspect {aspect!r} is not 'W:H' (e.g. '16:9')") from None
    if not (ratio_w > 0 and ratio_h > 0) or ratio_w == float("inf") or ratio_h == float("inf"):
        raise ValueError(f"aspect {aspect!r} needs two positive numbers")
    pads = {"pad_left": 0, "pad_top": 0, "pad_right": 0, "pad_bottom": 0}
    target = ratio_w / ratio_h
    if target > width / height:
        grow, first, second = math.ceil(height * target) - width, "pad_left", "pad_right"
    elif target < width / height:
        grow, first, second = math.ceil(width / target) - height, "pad_top", "pad_bottom"
    else:
        return pads
    grow = -(-grow // step) * step
    pads[first] = grow // 2 // step * step
    pads[second] = grow - pads[first]
    return pads
