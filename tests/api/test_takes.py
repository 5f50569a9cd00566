"""Takes over real HTTP (SQLite and PostgreSQL): every operation builds the job it should (inputs with
their roles and targets, the bound parameters), bad requests are refused naming the field."""

from __future__ import annotations

from tests.api.takes_support import by_role, publish, queue, queued, sample_shot, takes_api
from tests.support.api import Api, assert_problem
from tests.support.media import png_bytes

__all__ = ["takes_api"]


def test_generate_binds_the_prompt_engine_the_project_size_and_distinct_seeds(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    jobs = queued(takes_api, sample["shot"]["id"], candidates=3)
    assert len(jobs) == 3
    assert {j["workflow"] for j in jobs} == {"flux1_dev_t2i"} and {j["type"] for j in jobs} == {"t2i"}
    assert {j["output_stage"] for j in jobs} == {"previz"} and {j["status"] for j in jobs} == {"queued"}
    seeds = [j["params"]["seed"] for j in jobs]
    assert len(set(seeds)) == 3
    params = jobs[0]["params"]
    # the prompt engine: the character's trigger word, the environment, the cinematic preset, the action
    positive = params["positive"]
    assert "rina_v1" in positive and "narrow alley" in positive.lower()
    assert "50mm lens" in positive and "dolly in camera" in positive and "Rina sprints" in positive
    assert params["loras"] == [{"name": "rina_v1.safetensors", "strength": 0.8}]
    assert abs(params["width"] / params["height"] - 16 / 9) < 0.05
    assert params["filename_prefix"].endswith(sample["shot"]["code"])
    assert jobs[0]["inputs"] == []
    # The graph bound for the agent carries the seed and the LoRA chain.
    stored = takes_api.admin.get(f"/api/farm/jobs/{jobs[0]['id']}").json()
    assert stored["params"] == params

    counted = queued(takes_api, sample["shot"]["id"], candidates=3, seed=100, seeds="increment", priority=70)
    assert [j["params"]["seed"] for j in counted] == [100, 101, 102]
    assert {j["priority"] for j in counted} == {70}
    own = queued(
        takes_api, sample["shot"]["id"], prompt="a red umbrella", negative="blur", params={"steps": 12}
    )
    assert own[0]["params"]["positive"] == "a red umbrella" and own[0]["params"]["steps"] == 12


def test_refine_binds_the_source_take_and_the_denoise(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    take = sample["take"]
    [job] = queued(
        takes_api, sample["shot"]["id"], operation="refine", source_version_id=take["id"], denoise=0.35
    )
    assert job["workflow"] == "flux1_dev_i2i" and job["type"] == "i2i"
    assert job["params"]["denoise"] == 0.35
    [image] = by_role(job)["image"]
    assert image["version_id"] == take["id"] and image["targets"] == [["40", "image"]]
    assert image["sha256"] == take["files"][0]["sha256"]
    assert takes_api.admin.get(image["url"]).content == png_bytes(64, 64)  # what the agent downloads
    refused = queue(
        takes_api, sample["shot"]["id"], operation="refine", source_version_id=take["id"], denoise=0.01
    )
    assert_problem(refused, 422, "params.denoise")  # the template's own rule (min 0.05)


def test_inpaint_takes_a_mask_version_of_the_same_shot(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    shot_id, take = sample["shot"]["id"], sample["take"]
    mask = publish(
        takes_api.admin, shot_id, "mask", png_bytes(64, 64, "white"), {"source_version_id": take["id"]}
    )
    assert mask["stage"] == "mask"
    [job] = queued(
        takes_api, shot_id, operation="inpaint", source_version_id=take["id"], mask_version_id=mask["id"]
    )
    assert job["workflow"] == "flux1_fill_inpaint" and job["type"] == "inpaint"
    roles = by_role(job)
    assert roles["image"][0]["version_id"] == take["id"] and roles["image"][0]["targets"] == [["17", "image"]]
    assert roles["mask"][0]["version_id"] == mask["id"] and roles["mask"][0]["targets"] == [["50", "image"]]
    assert roles["image"][0]["name"] != roles["mask"][0]["name"]

    no_mask = queue(takes_api, shot_id, operation="inpaint", source_version_id=take["id"])
    assert_problem(no_mask, 422, "mask_version_id")
    a_take_as_mask = queue(
        takes_api, shot_id, operation="inpaint", source_version_id=take["id"], mask_version_id=take["id"]
    )
    assert "previz version, not mask" in assert_problem(a_take_as_mask, 422, "mask_version_id")["detail"]
    no_source = queue(takes_api, shot_id, operation="inpaint", mask_version_id=mask["id"])
    assert_problem(no_source, 422, "source_version_id")
    other = sample_shot(takes_api)
    foreign = queue(
        takes_api,
        shot_id,
        operation="inpaint",
        source_version_id=other["take"]["id"],
        mask_version_id=mask["id"],
    )
    assert_problem(foreign, 422, "source_version_id")
    t2i_with_mask = queue(takes_api, shot_id, mask_version_id=mask["id"])
    assert "no 'mask' input" in assert_problem(t2i_with_mask, 422, "mask_version_id")["detail"]


def test_outpaint_by_pixels_or_to_an_aspect(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    shot_id, take = sample["shot"]["id"], sample["take"]  # 64 x 64
    [job] = queued(
        takes_api, shot_id, operation="outpaint", source_version_id=take["id"], pad={"left": 64, "bottom": 32}
    )
    assert job["workflow"] == "flux1_fill_outpaint"
    pads = {k: job["params"][f"pad_{k}"] for k in ("left", "top", "right", "bottom")}
    assert pads == {"left": 64, "top": 0, "right": 0, "bottom": 32}
    square = publish(takes_api.admin, shot_id, "previz", png_bytes(256, 256))
    [wide] = queued(takes_api, shot_id, operation="outpaint", source_version_id=square["id"], aspect="16:9")
    left, right = wide["params"]["pad_left"], wide["params"]["pad_right"]
    assert left == right and left % 8 == 0 and wide["params"]["pad_top"] == wide["params"]["pad_bottom"] == 0
    assert abs((256 + left + right) / 256 - 16 / 9) < 16 / 256  # on the 8-pixel grid
    [tall] = queued(takes_api, shot_id, operation="outpaint", source_version_id=square["id"], aspect="9:16")
    assert tall["params"]["pad_top"] == tall["params"]["pad_bottom"] > 0 and tall["params"]["pad_left"] == 0

    both = queue(
        takes_api, shot_id, operation="outpaint", source_version_id=take["id"], pad={"left": 8}, aspect="1:1"
    )
    assert_problem(both, 422, "aspect")
    neither = queue(takes_api, shot_id, operation="outpaint", source_version_id=take["id"])
    assert_problem(neither, 422, "pad")
    already = queue(takes_api, shot_id, operation="outpaint", source_version_id=take["id"], aspect="1:1")
    assert_problem(already, 422, "aspect")
    off_grid = queue(takes_api, shot_id, operation="outpaint", source_version_id=take["id"], pad={"left": 10})
    assert_problem(off_grid, 422, "params.pad_left")
    pad_on_generate = queue(takes_api, shot_id, pad={"left": 8})
    assert_problem(pad_on_generate, 422, "pad")


def test_edit_with_an_instruction_and_character_references(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    shot_id, take, character = sample["shot"]["id"], sample["take"], sample["character"]
    refs = []
    for color in ("blue", "green"):
        uploaded = takes_api.admin.post(
            f"/api/characters/{character['id']}/references",
            files={"files": (f"rina_{color}.png", png_bytes(32, 48, color), "image/png")},
        )
        assert uploaded.status_code == 201, uploaded.text
        refs.append(uploaded.json())
    [job] = queued(
        takes_api,
        shot_id,
        operation="edit",
        source_version_id=take["id"],
        instruction="make it night, keep the composition",
        reference_version_ids=[r["id"] for r in refs],
    )
    assert job["workflow"] == "qwen_image_edit" and job["type"] == "image_edit"
    assert job["params"]["instruction"] == "make it night, keep the composition"
    assert (job["params"]["width"], job["params"]["height"]) == (64, 64)  # the source's size
    roles = by_role(job)
    assert [r["reference_id"] for r in roles["reference_image"]] == [r["id"] for r in refs]
    assert [r["targets"] for r in roles["reference_image"]] == [[["42", "image"]], [["43", "image"]]]
    assert takes_api.admin.get(roles["reference_image"][0]["url"]).content == png_bytes(32, 48, "blue")

    one = queued(
        takes_api,
        shot_id,
        operation="edit",
        source_version_id=take["id"],
        instruction="x",
        reference_version_ids=[refs[0]["id"]],
    )[0]
    assert len(by_role(one)["reference_image"]) == 1
    no_instruction = queue(takes_api, shot_id, operation="edit", source_version_id=take["id"])
    assert_problem(no_instruction, 422, "instruction")
    too_many = queue(
        takes_api,
        shot_id,
        operation="edit",
        source_version_id=take["id"],
        instruction="x",
        reference_version_ids=[refs[0]["id"], refs[1]["id"], refs[0]["id"]],
    )
    assert_problem(too_many, 422, "reference_version_ids")
    other = sample_shot(takes_api)
    foreign_ref = queue(
        takes_api,
        other["shot"]["id"],
        operation="edit",
        source_version_id=other["take"]["id"],
        instruction="x",
        reference_version_ids=[refs[0]["id"]],
    )
    assert_problem(foreign_ref, 422, "reference_version_ids.0")
    refs_on_t2i = queue(takes_api, shot_id, reference_version_ids=[refs[0]["id"]])
    assert_problem(refs_on_t2i, 422, "reference_version_ids")
    denoise_on_edit = queue(
        takes_api, shot_id, operation="edit", source_version_id=take["id"], instruction="x", denoise=0.5
    )
    assert_problem(denoise_on_edit, 422, "denoise")


def test_control_from_a_depth_version_of_the_shot(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    shot_id = sample["shot"]["id"]
    depth = publish(takes_api.admin, shot_id, "control", png_bytes(64, 36, "gray"), {"control_kind": "depth"})
    canny = publish(
        takes_api.admin, shot_id, "control", png_bytes(64, 36, "black"), {"control_kind": "canny"}
    )
    [job] = queued(
        takes_api,
        shot_id,
        control={"kind": "depth", "version_id": depth["id"], "strength": 0.6, "start": 0.1, "end": 0.8},
    )
    assert job["workflow"] == "flux1_dev_controlnet_depth" and job["type"] == "t2i"
    assert (
        job["params"]["control_strength"],
        job["params"]["control_start"],
        job["params"]["control_end"],
    ) == (
        0.6,
        0.1,
        0.8,
    )
    [control] = by_role(job)["control_image"]
    assert control["version_id"] == depth["id"] and control["targets"] == [["17", "image"]]
    # No version named: the shot's newest control image of that kind.
    [newest] = queued(takes_api, shot_id, control={"kind": "canny"})
    assert newest["workflow"] == "flux1_dev_controlnet_canny"
    assert by_role(newest)["control_image"][0]["version_id"] == canny["id"]
    # A pose image (the add-on's, from the character rigs) through the union ControlNet in openpose mode.
    skeleton = publish(
        takes_api.admin, shot_id, "control", png_bytes(64, 36, "red"), {"control_kind": "pose"}
    )
    [posed] = queued(takes_api, shot_id, control={"kind": "pose", "strength": 0.7})
    assert posed["workflow"] == "flux1_dev_controlnet_pose" and posed["params"]["control_strength"] == 0.7
    assert by_role(posed)["control_image"][0]["version_id"] == skeleton["id"]
    not_a_pose = queue(takes_api, shot_id, control={"kind": "pose", "version_id": depth["id"]})
    assert_problem(not_a_pose, 422, "control.version_id")

    wrong_kind = queue(takes_api, shot_id, control={"kind": "canny", "version_id": depth["id"]})
    assert_problem(wrong_kind, 422, "control.version_id")
    other = sample_shot(takes_api)
    none_yet = queue(takes_api, other["shot"]["id"], control={"kind": "depth"})
    assert_problem(none_yet, 422, "control.version_id")
    foreign = queue(takes_api, other["shot"]["id"], control={"kind": "depth", "version_id": depth["id"]})
    assert_problem(foreign, 422, "control.version_id")
    kind_mismatch = queue(
        takes_api,
        shot_id,
        workflow="flux1_dev_controlnet_depth",
        control={"kind": "canny", "version_id": canny["id"]},
    )
    assert_problem(kind_mismatch, 422, "control.kind")
    control_template_without_control = queue(takes_api, shot_id, workflow="flux1_dev_controlnet_depth")
    assert_problem(control_template_without_control, 422, "control")
    backwards = queue(takes_api, shot_id, control={"kind": "depth", "start": 0.9, "end": 0.2})
    assert_problem(backwards, 422)


def test_requests_a_template_cannot_serve_are_refused_naming_the_field(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    shot_id, take = sample["shot"]["id"], sample["take"]
    wrong_operation = queue(
        takes_api, shot_id, operation="refine", source_version_id=take["id"], workflow="flux1_dev_t2i"
    )
    assert "does generate, not refine" in assert_problem(wrong_operation, 422, "workflow")["detail"]
    video = queue(takes_api, shot_id, workflow="wan22_i2v_14b")
    assert_problem(video, 422, "workflow")
    unknown = queue(takes_api, shot_id, workflow="no_such_workflow")
    assert_problem(unknown, 404, "workflow")
    unknown_role = queue(takes_api, shot_id, params={"colour": 3})
    assert_problem(unknown_role, 422, "params.colour")
    no_source = queue(takes_api, shot_id, operation="refine")
    assert_problem(no_source, 422, "source_version_id")
    not_a_take = publish(takes_api.admin, shot_id, "mask", png_bytes(64, 64, "white"))
    mask_as_source = queue(takes_api, shot_id, operation="refine", source_version_id=not_a_take["id"])
    assert_problem(mask_as_source, 422, "source_version_id")
    too_many = queue(takes_api, shot_id, candidates=17)
    assert_problem(too_many, 422, "candidates")
    missing = queue(takes_api, "00000000-0000-0000-0000-000000000000")
    assert_problem(missing, 404)


def test_who_may_queue_takes(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    shot_id = sample["shot"]["id"]
    for role, allowed in (("artist", True), ("director", True), ("editor", True), ("wrangler", False)):
        client = takes_api.user(role)
        response = queue(takes_api, shot_id, client=client)
        if allowed:
            assert response.status_code == 201, (role, response.text)
        else:
            assert_problem(response, 403)
        client.close()
