"""LoRA chains inserted into the shipped workflows validate against the captured ComfyUI object_info."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aipipe_shared.workflows import TemplateBindError, bind, load_template, validate_graph
from aipipe_shared.workflows.lora_chain import LoraChainError, insert_lora_chain

ROOT = Path(__file__).resolve().parents[2]
OBJECT_INFO: dict[str, Any] = json.loads(
    (ROOT / "tests/data/comfyui/object_info.json").read_text(encoding="utf-8")
)
LORAS = [{"name": "rina_v1.safetensors", "strength": 0.8}, {"name": "minsu_v2.safetensors", "strength": 0.7}]


def _graph(name: str) -> dict[str, Any]:
    return load_template(ROOT / "workflows" / f"{name}.json").graph


def _chain_from(graph: dict[str, Any], source: str) -> list[str]:
    """Node ids of LoRA loaders following `source`'s MODEL output, in order."""
    chain, current = [], source
    while True:
        nxt = [
            k
            for k, n in graph.items()
            if n["class_type"].startswith("LoraLoader") and n["inputs"]["model"] == [current, 0]
        ]
        if not nxt:
            return chain
        chain.append(nxt[0])
        current = nxt[0]


def _assert_valid(graph: dict[str, Any]) -> None:
    report = validate_graph(graph, OBJECT_INFO)
    assert report.errors == [], [str(e) for e in report.errors]
    # The captured ComfyUI has no LoRA files installed: the LoRAs are reported as missing models, by name.
    missing = {p.message for p in report.missing_models if p.input_name == "lora_name"}
    assert missing == {f"model file '{x['name']}' is not installed" for x in LORAS}


def test_wan22_gets_a_chain_after_both_experts_and_the_samplers_use_its_end() -> None:
    graph = _graph("wan22_i2v_14b")
    chained, added = insert_lora_chain(graph, LORAS)
    _assert_valid(chained)
    unets = sorted(k for k, n in graph.items() if n["class_type"] == "UNETLoader")
    assert len(unets) == 2 and len(added) == 4
    for unet in unets:
        chain = _chain_from(chained, unet)
        assert [chained[n]["class_type"] for n in chain] == ["LoraLoaderModelOnly"] * 2
        assert [chained[n]["inputs"]["lora_name"] for n in chain] == [
            "rina_v1.safetensors",
            "minsu_v2.safetensors",
        ]
        assert [chained[n]["inputs"]["strength_model"] for n in chain] == [0.8, 0.7]
        # Whatever used the expert's model now uses the end of its chain, and nothing uses the bare model.
        users = [k for k, n in graph.items() if [unet, 0] in n["inputs"].values()]
        assert users and all(chained[u]["inputs"]["model"] == [chain[-1], 0] for u in users)
    assert graph == _graph("wan22_i2v_14b")  # the template's graph is not changed


def test_a_checkpoint_whose_clip_is_used_gets_lora_loaders_for_model_and_clip() -> None:
    graph = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "b", "clip": ["4", 1]}},
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 1,
                "steps": 20,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "x", "images": ["8", 0]}},
    }
    chained, added = insert_lora_chain(
        graph, [{"name": "rina_v1.safetensors", "strength": 0.8, "strength_clip": 0.5}]
    )
    assert added == ["10"] and chained["10"]["class_type"] == "LoraLoader"
    assert chained["10"]["inputs"] == {
        "model": ["4", 0],
        "clip": ["4", 1],
        "lora_name": "rina_v1.safetensors",
        "strength_model": 0.8,
        "strength_clip": 0.5,
    }
    assert chained["3"]["inputs"]["model"] == ["10", 0]
    assert chained["6"]["inputs"]["clip"] == chained["7"]["inputs"]["clip"] == ["10", 1]
    assert chained["8"]["inputs"]["vae"] == ["4", 2]  # the VAE does not go through the LoRA
    assert validate_graph(chained, OBJECT_INFO).errors == []


@pytest.mark.parametrize("name", ["wan21_i2v_480p", "ltxv095_i2v", "flux1_dev_t2i"])
def test_binding_loras_into_a_workflow_without_slots_chains_them(name: str) -> None:
    template = load_template(ROOT / "workflows" / f"{name}.json")
    params: dict[str, Any] = {"loras": LORAS}
    if "image" in template.roles:
        params["image"] = "first_frame.png"
    graph = bind(template, params)
    _assert_valid(graph)
    loaders = [
        k for k, n in template.graph.items() if n["class_type"] in ("UNETLoader", "CheckpointLoaderSimple")
    ]
    assert len(_chain_from(graph, loaders[0])) == 2
    # The LTX checkpoint's own CLIP output is unused (a separate CLIPLoader encodes), so model-only loaders.
    assert {n["class_type"] for n in graph.values() if "lora_name" in n["inputs"]} == {"LoraLoaderModelOnly"}


def test_a_workflow_with_slots_keeps_using_its_slots() -> None:
    template = load_template(ROOT / "workflows" / "flux1_dev_lora_t2i.json")
    graph = bind(template, {"positive": "x", "loras": LORAS})
    assert graph["40"]["inputs"]["lora_name"] == "rina_v1.safetensors"
    assert graph["41"]["inputs"]["lora_name"] == "minsu_v2.safetensors"
    assert sum(1 for n in graph.values() if "lora_name" in n["inputs"]) == 2
    _assert_valid(graph)


def test_bad_loras_and_graphs_without_a_model_loader_are_refused_by_name() -> None:
    with pytest.raises(LoraChainError, match=r"loras\[1\]\.strength"):
        insert_lora_chain(
            _graph("wan21_i2v_480p"), [LORAS[0], {"name": "x.safetensors", "strength": "strong"}]
        )
    with pytest.raises(LoraChainError, match=r"loras\[0\] must be an object with a 'name'"):
        insert_lora_chain(_graph("wan21_i2v_480p"), [{"strength": 1.0}])
    with pytest.raises(LoraChainError, match=r"loras\[0\]\.strength 500"):
        insert_lora_chain(_graph("wan21_i2v_480p"), [{"name": "x.safetensors", "strength": 500}])
    cpu = load_template(ROOT / "workflows" / "cpu_test_still_video.json")
    with pytest.raises(TemplateBindError, match="no model loader"):
        bind(cpu, {"image": "a.png", "loras": LORAS})
    assert insert_lora_chain(_graph("wan21_i2v_480p"), [])[1] == []
