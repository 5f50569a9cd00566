"""Workflow templates: shipped graphs validate, sidecars are checked, binding sets only bound inputs."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aipipe_shared.workflows import (
    INPUT_FILE_ROLES,
    SLOTTED_INPUT_ROLES,
    TemplateBindError,
    TemplateError,
    WorkflowTemplate,
    bind,
    check_params,
    graph_model_files,
    load_template,
    load_templates,
    outpaint_pads,
    role_targets,
    rules_of,
    snap,
    validate_graph,
    validate_template,
)
from tests.comfyui_standin.catalogue import LTX2_CLASSES, with_nodes

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
SHIPPED = sorted(p.stem for p in WORKFLOWS.glob("*.json") if not p.name.endswith(".meta.json"))


@pytest.fixture(scope="module")
def object_info() -> dict[str, Any]:
    return json.loads((ROOT / "tests" / "data" / "comfyui" / "object_info.json").read_text(encoding="utf-8"))


def template(name: str) -> WorkflowTemplate:
    return load_template(WORKFLOWS / f"{name}.json")


def copy_template(name: str, folder: Path, *, graph: Any = None, meta: Any = None) -> Path:
    """Copy a shipped template into folder, optionally editing graph/meta dicts in place."""
    folder.mkdir(parents=True, exist_ok=True)
    g = json.loads((WORKFLOWS / f"{name}.json").read_text(encoding="utf-8"))
    m = json.loads((WORKFLOWS / f"{name}.meta.json").read_text(encoding="utf-8"))
    if graph:
        graph(g)
    if meta:
        meta(m)
    (folder / f"{name}.json").write_text(json.dumps(g), encoding="utf-8")
    (folder / f"{name}.meta.json").write_text(json.dumps(m), encoding="utf-8")
    return folder / f"{name}.json"


def test_all_expected_templates_are_shipped() -> None:
    assert set(SHIPPED) >= {
        "wan21_i2v_480p",
        "wan22_i2v_14b",
        "ltxv095_i2v",
        "flux1_dev_t2i",
        "flux1_dev_lora_t2i",
        "esrgan_upscale_video",
        "rife_interpolate_2x",
        "cpu_test_still_video",
        "flux1_dev_i2i",
        "flux1_fill_inpaint",
        "flux1_fill_outpaint",
        "qwen_image_edit",
        "flux1_dev_controlnet_depth",
        "flux1_dev_controlnet_canny",
        "flux1_dev_controlnet_pose",
    }
    catalog = load_templates([WORKFLOWS])
    assert catalog.problems == [] and sorted(catalog.templates) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_template_validates_against_the_captured_object_info(
    name: str, object_info: dict[str, Any]
) -> None:
    t = template(name)
    if not t.meta.runs_on_comfyui("0.3.64"):  # LTX-2: the core classes of ComfyUI 0.8.0 it needs
        object_info = with_nodes(object_info, LTX2_CLASSES)
    report = validate_template(t, object_info)

    assert report.errors == [], [str(e) for e in report.errors]
    undeclared_classes = t.meta.custom_node_classes - set(object_info)
    assert {p.class_type for p in report.missing_custom_nodes} == undeclared_classes
    lora_slots = {t.graph[n]["inputs"][i] for n, i in t.meta.bindings.get("loras", [])}
    # the sidecar lists every model file the graph names (LoRA slots are filled per job) ...
    assert graph_model_files(t.graph) - lora_slots == set(t.meta.models)
    # ... so every model a host lacks is one the scheduler knows about
    missing = {t.graph[p.node_id]["inputs"][p.input_name] for p in report.missing_models}
    assert missing <= set(t.meta.models) | lora_slots


def test_rife_template_reports_only_its_declared_custom_node(object_info: dict[str, Any]) -> None:
    report = validate_template(template("rife_interpolate_2x"), object_info)

    assert report.errors == [] and report.missing_models == []
    assert [(p.node_id, p.class_type) for p in report.missing_custom_nodes] == [("3", "RIFE VFI")]
    assert template("rife_interpolate_2x").meta.custom_nodes[0].package == "ComfyUI-Frame-Interpolation"


def test_undeclared_unknown_class_is_an_error_naming_the_node(object_info: dict[str, Any]) -> None:
    report = validate_graph(template("rife_interpolate_2x").graph, object_info)

    assert [(e.kind, e.node_id, e.class_type) for e in report.errors] == [("unknown_class", "3", "RIFE VFI")]


def test_ltx_graph_without_the_required_strength_is_refused(object_info: dict[str, Any]) -> None:
    graph = copy.deepcopy(template("ltxv095_i2v").graph)
    del graph["95"]["inputs"]["strength"]  # as in ComfyUI_examples' LTX-Video 0.9.5 graph

    report = validate_graph(graph, object_info)

    assert [(e.kind, e.node_id, e.class_type, e.input_name) for e in report.errors] == [
        ("required_input_missing", "95", "LTXVImgToVideo", "strength")
    ]


def _set(node: str, name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda g: g[node]["inputs"].__setitem__(name, value)


@pytest.mark.parametrize(
    ("change", "kind", "node_id", "class_type", "input_name"),
    [
        (_set("5", "video", ["3", 0]), "return_type_mismatch", "5", "SaveVideo", "video"),
        (_set("2", "width", 99999), "value_bigger_than_max", "2", "ImageScale", "width"),
        (_set("3", "amount", 0), "value_smaller_than_min", "3", "RepeatImageBatch", "amount"),
        (_set("2", "upscale_method", "bogus"), "value_not_in_list", "2", "ImageScale", "upscale_method"),
        (_set("5", "codec", "hevc"), "value_not_in_list", "5", "SaveVideo", "codec"),  # V3 combo
        (_set("4", "fps", "fast"), "invalid_input_type", "4", "CreateVideo", "fps"),
        (_set("3", "image", ["42", 0]), "bad_linked_input", "3", "RepeatImageBatch", "image"),
        (_set("3", "image", ["2", 3]), "bad_linked_input", "3", "RepeatImageBatch", "image"),
        (lambda g: g["2"]["inputs"].pop("crop"), "required_input_missing", "2", "ImageScale", "crop"),
    ],
)
def test_graph_error_names_node_class_and_input(
    object_info: dict[str, Any], change: Any, kind: str, node_id: str, class_type: str, input_name: str
) -> None:
    graph = copy.deepcopy(template("cpu_test_still_video").graph)
    change(graph)

    report = validate_graph(graph, object_info)

    assert [(e.kind, e.node_id, e.class_type, e.input_name) for e in report.errors] == [
        (kind, node_id, class_type, input_name)
    ]
    assert f"node {node_id} ({class_type}) input '{input_name}'" in str(report.errors[0])


def test_missing_model_is_reported_apart_from_errors(object_info: dict[str, Any]) -> None:
    report = validate_template(template("flux1_dev_t2i"), object_info)

    assert report.ok
    assert ("10", "VAELoader", "vae_name") in {
        (p.node_id, p.class_type, p.input_name) for p in report.missing_models
    }


def test_binding_puts_positive_and_negative_prompts_in_their_nodes_only() -> None:
    t = template("wan21_i2v_480p")
    before = copy.deepcopy(t.graph)

    graph = bind(t, {"positive": "a fox in snow", "negative": "blurry", "image": "job/first.png", "seed": 7})

    assert graph["6"]["inputs"]["text"] == "a fox in snow"
    assert graph["7"]["inputs"]["text"] == "blurry"
    changed = {
        (node_id, name)
        for node_id, node in graph.items()
        for name, value in node["inputs"].items()
        if before[node_id]["inputs"][name] != value
    }
    assert changed == {("6", "text"), ("7", "text"), ("52", "image"), ("3", "seed")}
    assert t.graph == before  # the template itself is untouched
    positive_only = bind(t, {"positive": "a fox in snow", "image": "job/first.png"})
    assert positive_only["7"]["inputs"]["text"] == before["7"]["inputs"]["text"]  # negative kept its default


def test_binding_sets_every_target_of_a_role() -> None:
    graph = bind(template("flux1_dev_t2i"), {"width": 768, "height": 1344, "positive": "x"})

    assert (graph["27"]["inputs"]["width"], graph["30"]["inputs"]["width"]) == (768, 768)
    assert (graph["27"]["inputs"]["height"], graph["30"]["inputs"]["height"]) == (1344, 1344)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"negative": "blurry"}, "no binding for role 'negative'"),  # FLUX has no negative prompt
        ({"prompt": "x"}, "unknown role"),
        ({"seed": "42"}, "role 'seed' must be a number"),
        ({"seed": True}, "role 'seed' must be a number"),
        ({"width": 512.5}, "whole number"),
        ({"positive": 3}, "role 'positive' must be text"),
    ],
)
def test_binding_refuses_parameters_that_do_not_fit(params: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateBindError, match=message):
        bind(template("flux1_dev_t2i"), params)


def test_binding_requires_the_uploaded_input_file() -> None:
    with pytest.raises(TemplateBindError, match=r"input file for role\(s\) \['image'\]"):
        bind(template("ltxv095_i2v"), {"positive": "a fox"})


def test_loras_fill_slots_and_unused_slots_are_bypassed(object_info: dict[str, Any]) -> None:
    t = template("flux1_dev_lora_t2i")

    one = bind(t, {"positive": "x", "loras": [{"name": "hero.safetensors", "strength": 0.8}]})
    none = bind(t, {"positive": "x"})

    assert (
        one["40"]["inputs"]["lora_name"] == "hero.safetensors"
        and one["40"]["inputs"]["strength_model"] == 0.8
    )
    assert "41" not in one and one["30"]["inputs"]["model"] == ["40", 0]
    assert "40" not in none and "41" not in none and none["30"]["inputs"]["model"] == ["12", 0]
    for graph in (one, none):
        assert validate_graph(graph, object_info).errors == []
    with pytest.raises(TemplateBindError, match="2 LoRA slot"):
        bind(t, {"loras": [{"name": f"{i}.safetensors"} for i in range(3)]})


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda m: m.__setitem__("job_type", "t2v"), "job_type"),
        (lambda m: m.pop("outputs"), "outputs"),
        (lambda m: m.__setitem__("min_vram_gb", -1), "min_vram_gb"),
        (lambda m: m.__setitem__("colour", "red"), "colour"),
        (lambda m: m["bindings"].__setitem__("mood", [["2", "width"]]), "bindings.mood"),
        (lambda m: m["bindings"].__setitem__("width", [["99", "width"]]), "bindings.width"),
        (lambda m: m["bindings"].__setitem__("width", [["2", "wdith"]]), "bindings.width"),
        (lambda m: m["bindings"].__setitem__("width", [["2", "image"]]), "bindings.width"),  # a link
        (lambda m: m.__setitem__("outputs", ["77"]), "outputs"),
    ],
)
def test_bad_sidecar_is_refused_naming_the_file_and_key(tmp_path: Path, edit: Any, key: str) -> None:
    path = copy_template("cpu_test_still_video", tmp_path, meta=edit)

    with pytest.raises(TemplateError) as caught:
        load_template(path)

    assert caught.value.path.name == "cpu_test_still_video.meta.json"
    assert caught.value.key.startswith(key)
    assert f"cpu_test_still_video.meta.json: {key}" in str(caught.value)


def test_graph_without_sidecar_or_in_ui_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "lonely.json").write_text(json.dumps(template("cpu_test_still_video").graph))
    (tmp_path / "ui.json").write_text(json.dumps({"nodes": [], "links": []}))

    with pytest.raises(TemplateError, match="sidecar missing"):
        load_template(tmp_path / "lonely.json")
    with pytest.raises(TemplateError, match="Export \\(API\\)"):
        load_template(tmp_path / "ui.json")


def test_user_folder_adds_and_overrides_templates_and_a_broken_one_hides_nothing(tmp_path: Path) -> None:
    user = tmp_path / "user"
    copy_template("cpu_test_still_video", user, meta=lambda m: m.__setitem__("title", "studio version"))
    shutil.copy(WORKFLOWS / "flux1_dev_t2i.json", user / "my_flux.json")
    shutil.copy(WORKFLOWS / "flux1_dev_t2i.meta.json", user / "my_flux.meta.json")
    (user / "broken.json").write_text("{not json")

    catalog = load_templates([WORKFLOWS, user, tmp_path / "does-not-exist"])

    assert catalog.templates["cpu_test_still_video"].meta.title == "studio version"
    assert "my_flux" in catalog.templates and "wan21_i2v_480p" in catalog.templates
    assert [p.path.name for p in catalog.problems] == ["broken.json"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_template_defaults_keep_its_own_parameter_rules(name: str) -> None:
    tpl = template(name)
    assert check_params(tpl, tpl.graph) == []


def test_parameter_rules_refuse_what_a_model_or_h264_cannot_take_and_snap_finds_the_nearest() -> None:
    wan, cpu = template("wan21_i2v_480p"), template("cpu_test_still_video")
    graph = bind(wan, {"image": "x.png", "length": 80, "width": 830})
    problems = dict(check_params(wan, graph))
    assert set(problems) == {"length", "width"}
    assert "4k+1" in problems["length"] and "multiple of 16" in problems["width"]
    # Any SaveVideo (h264, yuv420p) output needs even sizes, whatever the sidecar says.
    odd = dict(check_params(cpu, bind(cpu, {"image": "x.png", "width": 511, "height": 287})))
    assert set(odd) == {"width", "height"} and "even" in odd["width"]
    assert snap(rules_of(wan), "length", 80) == 77 and snap(rules_of(wan), "width", 830) == 816
    assert snap(rules_of(cpu), "width", 511) == 510


# ---- the image loop (#14): takes, masks, control images, references ----------------------------------
IMAGE_LOOP = {
    # name: (operation, the input-file roles a job must upload, control kind)
    "flux1_dev_t2i": ("generate", set(), None),
    "flux1_dev_i2i": ("refine", {"image"}, None),
    "flux1_fill_inpaint": ("inpaint", {"image", "mask"}, None),
    "flux1_fill_outpaint": ("outpaint", {"image"}, None),
    "qwen_image_edit": ("edit", {"image"}, None),
    "flux1_dev_controlnet_depth": ("generate", {"control_image"}, "depth"),
    "flux1_dev_controlnet_canny": ("generate", {"control_image"}, "canny"),
    "flux1_dev_controlnet_pose": ("generate", {"control_image"}, "pose"),
}


@pytest.mark.parametrize("name", sorted(IMAGE_LOOP))
def test_image_loop_template_declares_its_operation_inputs_and_control(
    name: str, object_info: dict[str, Any]
) -> None:
    operation, needed, control = IMAGE_LOOP[name]
    t = template(name)

    assert t.meta.media_kind == "image" and t.meta.take_operation == operation
    assert (t.meta.control.kind if t.meta.control else None) == control
    required = {r for r in INPUT_FILE_ROLES if r in t.roles and r not in SLOTTED_INPUT_ROLES}
    assert required == needed
    # bound with a placeholder per required input, the graph is one ComfyUI 0.3.64 accepts
    graph = bind(t, {role: f"{role}.png" for role in needed} | {"seed": 5})
    assert validate_graph(graph, object_info).errors == []
    if needed:
        with pytest.raises(TemplateBindError, match="needs an uploaded input file"):
            bind(t, {"seed": 5})


def test_operation_defaults_to_the_job_types_and_min_comfyui_is_a_version(tmp_path: Path) -> None:
    t2i = template("flux1_dev_t2i")
    assert t2i.meta.operation is None and t2i.meta.take_operation == "generate"
    assert template("wan21_i2v_480p").meta.take_operation is None  # video: no take operation
    qwen = template("qwen_image_edit").meta
    assert qwen.min_comfyui_version == (0, 3, 60)
    assert qwen.runs_on_comfyui("0.3.64") and qwen.runs_on_comfyui("v0.3.60") and qwen.runs_on_comfyui(None)
    assert not qwen.runs_on_comfyui("0.3.51") and not qwen.runs_on_comfyui("0.2")
    assert qwen.runs_on_comfyui("unknown") and t2i.meta.runs_on_comfyui("0.1.0")

    bad = copy_template("flux1_dev_i2i", tmp_path, meta=lambda m: m.__setitem__("min_comfyui", "latest"))
    with pytest.raises(TemplateError, match="min_comfyui"):
        load_template(bad)
    bad = copy_template("flux1_dev_i2i", tmp_path, meta=lambda m: m.__setitem__("control", {"kind": "x"}))
    with pytest.raises(TemplateError, match="control.kind"):
        load_template(bad)


def test_outpaint_pads_and_feathering_are_bound_and_checked() -> None:
    t = template("flux1_fill_outpaint")
    pads = {"pad_left": 64, "pad_top": 0, "pad_right": 64, "pad_bottom": 32, "feathering": 16}

    graph = bind(t, {"image": "take.png", **pads})

    assert {k: graph["44"]["inputs"][k] for k in ("left", "top", "right", "bottom", "feathering")} == {
        "left": 64,
        "top": 0,
        "right": 64,
        "bottom": 32,
        "feathering": 16,
    }
    odd = dict(check_params(t, bind(t, {"image": "take.png", "pad_left": 60})))
    assert set(odd) == {"pad_left"} and "multiple of 8" in odd["pad_left"]
    with pytest.raises(TemplateBindError, match="whole number"):
        bind(t, {"image": "take.png", "pad_left": 8.5})


def test_control_strength_and_range_are_bound_and_checked() -> None:
    t = template("flux1_dev_controlnet_depth")

    graph = bind(
        t, {"control_image": "depth.png", "control_strength": 0.8, "control_start": 0, "control_end": 0.6}
    )

    assert graph["14"]["inputs"]["strength"] == 0.8 and graph["14"]["inputs"]["end_percent"] == 0.6
    assert isinstance(graph["14"]["inputs"]["start_percent"], float)
    too_strong = dict(check_params(t, bind(t, {"control_image": "d.png", "control_strength": 3})))
    assert set(too_strong) == {"control_strength"} and "above 2" in too_strong["control_strength"]


def test_instruction_goes_to_the_edit_prompt_and_reference_slots_fill_in_order(
    object_info: dict[str, Any],
) -> None:
    t = template("qwen_image_edit")
    base = {"image": "take.png", "instruction": "make it night", "negative": "blurry"}

    none = bind(t, base)
    one = bind(t, {**base, "reference_image": "hero.png"})
    two = bind(t, {**base, "reference_image": ["hero.png", "coat.png"]})

    assert none["68"]["inputs"]["prompt"] == "make it night" and none["69"]["inputs"]["prompt"] == "blurry"
    assert "42" not in none and "43" not in none and "image2" not in none["68"]["inputs"]
    assert one["42"]["inputs"]["image"] == "hero.png" and "43" not in one
    assert one["68"]["inputs"]["image2"] == ["42", 0] and "image3" not in one["69"]["inputs"]
    assert (two["42"]["inputs"]["image"], two["43"]["inputs"]["image"]) == ("hero.png", "coat.png")
    for graph in (none, one, two):
        assert validate_graph(graph, object_info).errors == []
    assert role_targets(t, "reference_image", 1) == [["43", "image"]]
    assert role_targets(t, "image") == [["41", "image"]]
    with pytest.raises(TemplateBindError, match="2 slot"):
        bind(t, {**base, "reference_image": ["a.png", "b.png", "c.png"]})
    with pytest.raises(TemplateBindError, match="2 slot"):
        role_targets(t, "reference_image", 2)
    with pytest.raises(TemplateBindError, match="file name"):
        bind(t, {**base, "reference_image": [3]})


@pytest.mark.parametrize(
    ("size", "aspect", "pads"),
    [
        ((1024, 1024), "16:9", {"pad_left": 400, "pad_top": 0, "pad_right": 400, "pad_bottom": 0}),
        ((1280, 720), "1:1", {"pad_left": 0, "pad_top": 280, "pad_right": 0, "pad_bottom": 280}),
        ((1280, 720), "2.39:1", {"pad_left": 224, "pad_top": 0, "pad_right": 224, "pad_bottom": 0}),
        ((1000, 600), "2:1", {"pad_left": 96, "pad_top": 0, "pad_right": 104, "pad_bottom": 0}),
        ((1280, 720), "16:9", {"pad_left": 0, "pad_top": 0, "pad_right": 0, "pad_bottom": 0}),
    ],
)
def test_outpaint_pads_reach_the_aspect_on_the_8_pixel_grid(
    size: tuple[int, int], aspect: str, pads: dict[str, int]
) -> None:
    got = outpaint_pads(*size, aspect)

    assert got == pads
    width = size[0] + got["pad_left"] + got["pad_right"]
    height = size[1] + got["pad_top"] + got["pad_bottom"]
    ratio_w, ratio_h = (float(x) for x in aspect.split(":"))
    assert abs(width / height - ratio_w / ratio_h) < 8 / min(width, height)
    assert all(v % 8 == 0 for v in got.values())
    tpl = template("flux1_fill_outpaint")
    assert check_params(tpl, bind(tpl, {"image": "t.png", **got})) == []


@pytest.mark.parametrize("aspect", ["wide", "16/9", "0:1", "16:-9", "1:2:3", "inf:1"])
def test_outpaint_pads_refuse_an_aspect_that_is_no_ratio(aspect: str) -> None:
    with pytest.raises(ValueError, match="aspect"):
        outpaint_pads(1024, 576, aspect)
