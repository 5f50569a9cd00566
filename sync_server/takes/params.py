"""A take's parameters: the shot's roles from the prompt engine (as a render binds them), then what the
request changes (prompt, instruction, denoise, control strength, outpaint pads), then its own `params`;
and the seeds of its candidates."""

from __future__ import annotations

import math
import random
from typing import Any

from sqlalchemy.orm import Session

from aipipe_shared.workflows import WorkflowTemplate, rules_of, snap

from ..db.models import Project, Shot
from ..errors import Unprocessable
from ..farm.render import shot_params
from ..prompts.engine import PromptResult
from .inputs import TakeInputs
from .schemas import MAX_SEED, TakeFields

PAD_STEP = 8  # outpaint pads stay on the latent grid
KEEP_SIZE = frozenset({"refine", "edit", "inpaint"})  # the result has the source's size


def take_params(
    session: Session,
    shot: Shot,
    project: Project,
    template: WorkflowTemplate,
    body: TakeFields,
    inputs: TakeInputs,
    seed: int,
    prompt: PromptResult | None = None,
) -> dict[str, Any]:
    roles = template.roles
    size = inputs.source_size if body.operation in KEEP_SIZE else None
    params = shot_params(session, shot, project, template, seed=seed, prompt=prompt, size=size)
    if body.prompt is not None and "positive" in roles:
        params["positive"] = body.prompt
    if body.negative is not None and "negative" in roles:
        params["negative"] = body.negative
    instruction = body.instruction
    if body.operation == "edit" and instruction is None:
        instruction = body.prompt  # an edit's prompt is its instruction
    if instruction is not None:
        params["instruction" if "instruction" in roles else "positive"] = instruction
    if body.denoise is not None:
        params["denoise"] = body.denoise
    if body.control is not None:
        for role, value in (
            ("control_strength", body.control.strength),
            ("control_start", body.control.start),
            ("control_end", body.control.end),
        ):
            if role in roles:
                params[role] = value
    if body.operation == "outpaint":
        params.update(outpaint_pads(template, body, inputs))
    params.update(body.params)
    return params


def outpaint_pads(template: WorkflowTemplate, body: TakeFields, inputs: TakeInputs) -> dict[str, int]:
    """The pixels added per side: as given, or what makes the source picture `aspect` (split evenly
    between the two sides that grow, each on the 8-pixel grid)."""
    rules = rules_of(template)
    if body.pad is not None:
        pads = {
            "left": body.pad.left,
            "top": body.pad.top,
            "right": body.pad.right,
            "bottom": body.pad.bottom,
        }
        if not any(pads.values()):
            raise Unprocessable("outpaint needs at least one side with pixels to add", field="pad")
        return {f"pad_{side}": value for side, value in pads.items()}  # as given: the template's rules judge
    else:
        assert body.aspect is not None
        if inputs.source_size is None:
            raise Unprocessable(
                "the source take's image size is unknown, so aspect cannot be turned into pads: give pad",
                field="source_version_id",
            )
        width, height = inputs.source_size
        aim_w, aim_h = (int(x) for x in body.aspect.split(":"))
        pads = {"left": 0, "top": 0, "right": 0, "bottom": 0}
        if width * aim_h < height * aim_w:  # too narrow: grow left and right
            side = math.ceil((height * aim_w / aim_h - width) / 2 / PAD_STEP) * PAD_STEP
            pads["left"] = pads["right"] = side
        elif width * aim_h > height * aim_w:  # too wide: grow top and bottom
            side = math.ceil((width * aim_h / aim_w - height) / 2 / PAD_STEP) * PAD_STEP
            pads["top"] = pads["bottom"] = side
        else:
            raise Unprocessable(f"the source take is already {body.aspect}", field="aspect")
    return {f"pad_{side}": snap(rules, f"pad_{side}", value) for side, value in pads.items()}


class Seeds:
    """Seeds for the candidates of one request: distinct across all its jobs."""

    def __init__(self, rng: random.Random | None = None) -> None:
        # Seeds need no secrecy: a PRNG seeded once from the OS (SystemRandom read the OS per seed).
        self._rng = rng or random.Random()
        self._taken: set[int] = set()

    def _fresh(self) -> int:
        while True:
            seed = self._rng.randint(0, MAX_SEED)
            if seed not in self._taken:
                return seed

    def take(self, seed: int) -> int:
        self._taken.add(seed)
        return seed

    def for_candidates(self, first: int | None, policy: str, count: int) -> list[int]:
        """`first` (else random), then random seeds or first + 1, + 2, ... (wrapping past the maximum)."""
        start = first if first is not None else self._fresh()
        seeds = [self.take(start)]
        for index in range(1, count):
            if policy == "increment":
                seeds.append(self.take((start + index) % (MAX_SEED + 1)))
            else:
                seeds.append(self.take(self._fresh()))
        return seeds
