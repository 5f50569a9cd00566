"""How each workflow wants its prompt: natural-language sentences (FLUX, Wan, LTX-Video) or comma tags
(SD 1.5 / SDXL checkpoints), how long it may be, and its base negative prompt.

The family is recognised from the model files the workflow loads; a `<workflow>.prompt.toml` beside the
workflow overrides any of it: `style = "tags"`, `max_words = 60`, `negative = "..."`, `family = "..."`
(TOML, because every `*.json` in a workflow folder is read as a graph).
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from aipipe_shared.workflows import WorkflowTemplate, graph_model_files

log = logging.getLogger(__name__)

Kind = Literal["natural", "tags"]
NATURAL_NEGATIVE = "blurry, low quality, distorted faces, extra limbs, watermark, text, subtitles"
TAGS_NEGATIVE = "lowres, bad anatomy, bad hands, blurry, jpeg artifacts, watermark, text, signature"


@dataclass(frozen=True)
class PromptStyle:
    family: str
    kind: Kind
    max_words: int
    negative: str


# (substring of a model file name, style); first match wins. Word limits keep the prompt inside what
# the text encoder reads: T5 (FLUX, LTX) and umT5 (Wan) take about 512 tokens, but these models follow
# short, concrete prompts best; CLIP reads 75 tokens per chunk.
FAMILIES: list[tuple[str, PromptStyle]] = [
    ("flux", PromptStyle("flux", "natural", 180, NATURAL_NEGATIVE)),
    ("wan2", PromptStyle("wan", "natural", 120, NATURAL_NEGATIVE)),
    ("wan_", PromptStyle("wan", "natural", 120, NATURAL_NEGATIVE)),
    ("ltx", PromptStyle("ltxv", "natural", 150, NATURAL_NEGATIVE)),
    ("sdxl", PromptStyle("sdxl", "tags", 60, TAGS_NEGATIVE)),
    ("sd_xl", PromptStyle("sdxl", "tags", 60, TAGS_NEGATIVE)),
    ("pony", PromptStyle("sdxl", "tags", 60, TAGS_NEGATIVE)),
    ("illustrious", PromptStyle("sdxl", "tags", 60, TAGS_NEGATIVE)),
    ("v1-5", PromptStyle("sd15", "tags", 60, TAGS_NEGATIVE)),
    ("sd15", PromptStyle("sd15", "tags", 60, TAGS_NEGATIVE)),
]
DEFAULT_STYLE = PromptStyle("generic", "natural", 150, NATURAL_NEGATIVE)


def style_for_models(model_files: set[str] | list[str]) -> PromptStyle:
    names = sorted(m.lower() for m in model_files)
    for needle, style in FAMILIES:
        if any(needle in name for name in names):
            return style
    return DEFAULT_STYLE


def style_for(template: WorkflowTemplate) -> PromptStyle:
    """The workflow's style: from its models, then its `.prompt.toml` sidecar if there is one."""
    style = style_for_models(graph_model_files(template.graph) | set(template.meta.models))
    sidecar = template.graph_path.with_name(template.name + ".prompt.toml")
    return _override(style, sidecar) if sidecar.is_file() else style


def _override(style: PromptStyle, path: Path) -> PromptStyle:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.warning("prompt style sidecar %s ignored: %s", path, exc)
        return style
    changes: dict[str, Any] = {}
    if data.get("style") in ("natural", "tags"):
        changes["kind"] = data["style"]
    if isinstance(data.get("max_words"), int) and data["max_words"] > 0:
        changes["max_words"] = data["max_words"]
    if isinstance(data.get("negative"), str):
        changes["negative"] = data["negative"]
    return replace(style, family=str(data.get("family", style.family)), **changes)
