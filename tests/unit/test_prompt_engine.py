"""The prompt engine: golden prompts per style (reviewed by hand, see tests/unit/golden/prompts/), where
each fragment came from, word limits that leave out the least important fragments first, determinism.

To rewrite the golden files after a deliberate change: `AIPIPE_UPDATE_GOLDEN=1 pytest tests/unit/...`,
then read every changed file before committing it.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aipipe_shared.workflows import load_template
from sync_server.prompts.engine import Camera, PromptInputs, PromptResult, Setting, Subject, build
from sync_server.prompts.styles import DEFAULT_STYLE, style_for, style_for_models

GOLDEN = Path(__file__).resolve().parent / "golden" / "prompts"
WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"

RINA = Subject(
    name="리나",
    description="20대 여성, 짧은 검은 머리, 날카로운 눈매",
    clothing="빨간 코트",
    trigger_words=("rina_v1",),
    lora_file="loras/rina_v1.safetensors",
    lora_strength=0.8,
)
MINSU = Subject(
    name="민수",
    description="30대 남성, 안경, 지친 표정",
    clothing="회색 후드",
    trigger_words=("minsu_v2",),
    lora_file="loras\\minsu_v2.safetensors",
    lora_strength=0.7,
)
ALLEY = Setting(
    name="골목길",
    prompt="narrow Seoul back alley at night, wet asphalt reflecting neon signs, light rain",
    location="서울 구도심의 좁은 골목",
    time_of_day="밤",
    weather="비",
    mood="긴장감",
)
ROOFTOP = Setting(
    name="Rooftop", location="old apartment rooftop", time_of_day="dawn", weather="clear", mood="relief"
)
OTS = Camera(
    "Over The Shoulder",
    "over-the-shoulder",
    "eye level",
    50.0,
    "static",
    "35mm film",
    "motivated window light",
)
PUSH = Camera("Slow Push In", "medium close-up", "eye level", 50.0, "dolly in", "35mm film", "soft key light")

CASES: dict[str, tuple[PromptInputs, str]] = {
    "two_subjects_wan": (
        PromptInputs(
            (RINA, MINSU), ALLEY, OTS, "They face each other under a flickering sign.", "두 사람이 마주 선다"
        ),
        "wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors",
    ),
    "environment_fields_flux": (
        PromptInputs((RINA,), ROOFTOP, PUSH, "Rina leans on the railing and smiles for the first time."),
        "flux1-dev.safetensors",
    ),
    "tags_sdxl": (
        PromptInputs((RINA, MINSU), ALLEY, OTS, "They face each other under a flickering sign."),
        "sd_xl_base_1.0.safetensors",
    ),
    "description_only": (
        PromptInputs(description="비 내리는 골목길 전경"),
        "ltx-video-2b-v0.9.5.safetensors",
    ),
}


def _as_json(result: PromptResult) -> dict[str, Any]:
    return {
        "style": {
            "family": result.style.family,
            "kind": result.style.kind,
            "max_words": result.style.max_words,
        },
        "positive": result.positive,
        "negative": result.negative,
        "words": result.words,
        "truncated": result.truncated,
        "fragments": [[f.part, f.source, f.text, f.kept] for f in result.fragments],
        "loras": [[x.name, x.strength, x.source] for x in result.loras],
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_prompts_match_the_reviewed_golden_files(case: str) -> None:
    inputs, model = CASES[case]
    got = _as_json(build(inputs, style_for_models([model])))
    path = GOLDEN / f"{case}.json"
    if os.environ.get("AIPIPE_UPDATE_GOLDEN"):
        path.write_text(json.dumps(got, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8"))


def test_every_kept_positive_fragment_is_in_the_prompt_and_every_left_out_one_is_not() -> None:
    inputs, model = CASES["two_subjects_wan"]
    result = build(inputs, replace(style_for_models([model]), max_words=30))
    positive = [f for f in result.fragments if f.part == "positive"]
    assert result.words <= 30
    for fragment in positive:
        assert (fragment.text.casefold() in result.positive.casefold()) == fragment.kept, fragment
    # Least important first: mood/look/lighting/movement go before the description and the action.
    dropped = {f.field for f in positive if not f.kept}
    assert {"film_look", "lighting", "lens"} <= dropped
    kept = {f.source for f in positive if f.kept}
    assert {"character:리나.trigger_words", "character:민수.trigger_words", "character:리나.name"} <= kept


def test_a_too_long_action_is_cut_but_trigger_words_never_are() -> None:
    long_action = " ".join(f"word{i}" for i in range(300))
    result = build(PromptInputs((RINA,), None, None, long_action), replace(DEFAULT_STYLE, max_words=40))
    assert result.truncated and result.words <= 40 and result.positive.endswith("…")
    assert (
        result.positive.startswith("rina_v1, 리나")
        and "Word0 word1" in result.positive
        and "word299" not in result.positive
    )


def test_the_same_inputs_give_the_same_prompt() -> None:
    inputs, model = CASES["tags_sdxl"]
    style = style_for_models([model])
    assert _as_json(build(inputs, style)) == _as_json(build(inputs, style))


def test_the_same_words_from_two_sources_are_said_once() -> None:
    alley = Setting(name="Alley", prompt="Rain falls on the empty alley.")
    result = build(PromptInputs(environment=alley, action="rain falls on the empty alley"), DEFAULT_STYLE)
    assert result.positive == "Rain falls on the empty alley."
    assert [(f.source, f.kept) for f in result.fragments if f.part == "positive"] == [
        ("shot.action", True),
        ("environment:Alley.prompt", False),
    ]


def test_each_shipped_workflow_gets_its_family_style() -> None:
    families = {
        name: style_for(load_template(WORKFLOWS / f"{name}.json")).family
        for name in ("flux1_dev_t2i", "flux1_dev_lora_t2i", "wan21_i2v_480p", "wan22_i2v_14b", "ltxv095_i2v")
    }
    assert families == {
        "flux1_dev_t2i": "flux",
        "flux1_dev_lora_t2i": "flux",
        "wan21_i2v_480p": "wan",
        "wan22_i2v_14b": "wan",
        "ltxv095_i2v": "ltxv",
    }


def test_a_prompt_toml_beside_a_workflow_overrides_its_style(tmp_path: Path) -> None:
    for suffix in (".json", ".meta.json"):
        (tmp_path / f"mine{suffix}").write_text(
            (WORKFLOWS / f"flux1_dev_t2i{suffix}").read_text(encoding="utf-8"), encoding="utf-8"
        )
    (tmp_path / "mine.prompt.toml").write_text(
        'style = "tags"\nmax_words = 12\nfamily = "house"\n', encoding="utf-8"
    )
    style = style_for(load_template(tmp_path / "mine.json"))
    assert (style.family, style.kind, style.max_words) == ("house", "tags", 12)
