"""`validate_prompt` as ComfyUI 0.3.64's execution.py does it, driven by a captured object_info dict.

Same rules and the same error JSON: per output node, unknown class -> `invalid_prompt`, then per input
`required_input_missing`, `bad_linked_input`, `return_type_mismatch`, `invalid_input_type`, min/max,
`value_not_in_list` (V1 combos only: V3 `COMBO` values are not checked, as in 0.3.64), and LoadImage's
custom validation of the input file.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from aipipe_shared.workflows import MODEL_INPUT_NAMES

CONVERTERS: dict[str, Callable[[Any], Any]] = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


def full_type_name(exc: BaseException) -> str:
    """`module.QualName` like ComfyUI's `full_type_name`, bare name for builtins."""
    klass = type(exc)
    return (
        klass.__qualname__ if klass.__module__ == "builtins" else f"{klass.__module__}.{klass.__qualname__}"
    )


def with_models(object_info: dict[str, Any], files: Iterable[str]) -> dict[str, Any]:
    """A copy of the catalogue whose model-file combos (unet_name, vae_name, control_net_name ...) also offer
    `files`: what /object_info says on a host with those files in its models folders."""
    info = copy.deepcopy(object_info)
    names = list(dict.fromkeys(files))
    for node in info.values():
        for category in ("required", "optional"):
            for name, spec in ((node.get("input") or {}).get(category) or {}).items():
                if name not in MODEL_INPUT_NAMES or not spec:
                    continue
                if isinstance(spec[0], list):
                    spec[0].extend(n for n in names if n not in spec[0])
                elif spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1].get("options"), list):
                    spec[1]["options"].extend(n for n in names if n not in spec[1]["options"])  # V3 combos
    return info


def _error(kind: str, message: str, details: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def types_compatible(received: Any, expected: Any) -> bool:
    """ComfyUI's `validate_node_input` (non-strict): equal, wildcard, or comma-separated overlap."""
    if received == expected:
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    got = {t.strip() for t in received.split(",")}
    want = {t.strip() for t in expected.split(",")}
    return "*" in got or "*" in want or bool(got & want)


class PromptValidator:
    """Validates one prompt; `custom_validators` maps class_type -> fn(inputs) -> True | message, and
    `custom_covers` the inputs that fn checks itself (its VALIDATE_INPUTS arguments: they skip the generic
    checks; without an entry, all of them)."""

    def __init__(
        self,
        object_info: dict[str, Any],
        custom_validators: dict[str, Callable[[dict[str, Any]], bool | str]] | None = None,
        custom_covers: dict[str, frozenset[str]] | None = None,
    ):
        self.object_info = object_info
        self.custom_validators = custom_validators or {}
        self.custom_covers = custom_covers or {}

    def validate_prompt(
        self, prompt: dict[str, Any], partial_targets: list[str] | None = None
    ) -> tuple[bool, dict[str, Any] | None, list[str], dict[str, Any]]:
        """(valid, error, good_outputs, node_errors) - the tuple execution.validate_prompt returns."""
        outputs: list[str] = []
        for node_id, node in prompt.items():
            if not isinstance(node, dict) or "class_type" not in node:
                message = "Cannot execute because a node is missing the class_type property."
                return False, _error("invalid_prompt", message, f"Node ID '#{node_id}'"), [], {}
            info = self.object_info.get(node["class_type"])
            if info is None:
                message = f"Cannot execute because node {node['class_type']} does not exist."
                return False, _error("invalid_prompt", message, f"Node ID '#{node_id}'"), [], {}
            if info.get("output_node") and (partial_targets is None or node_id in partial_targets):
                outputs.append(node_id)
        if not outputs:
            return False, _error("prompt_no_outputs", "Prompt has no outputs"), [], {}

        good: list[str] = []
        failures: list[tuple[str, list[dict[str, Any]]]] = []
        node_errors: dict[str, Any] = {}
        validated: dict[str, tuple[bool, list[dict[str, Any]]]] = {}
        for out in outputs:
            try:
                valid, reasons = self._validate_inputs(prompt, out, validated)
            except Exception as exc:
                valid = False
                reasons = [
                    _error(
                        "exception_during_validation",
                        "Exception when validating node",
                        str(exc),
                        exception_type=full_type_name(exc),
                        traceback=traceback.format_tb(exc.__traceback__),
                    )
                ]
                validated[out] = (False, reasons)
            if valid:
                good.append(out)
                continue
            failures.append((out, reasons))
            for node_id, (ok, node_reasons) in validated.items():
                # Downstream nodes of a bad node are invalid without reasons; only report the cause.
                if ok or not node_reasons:
                    continue
                entry = node_errors.setdefault(
                    node_id,
                    {
                        "errors": node_reasons,
                        "dependent_outputs": [],
                        "class_type": prompt[node_id]["class_type"],
                    },
                )
                entry["dependent_outputs"].append(out)
        if not good:
            details = "\n".join(f"{e['message']}: {e['details']}" for _, errs in failures for e in errs)
            error = _error("prompt_outputs_failed_validation", "Prompt outputs failed validation", details)
            return False, error, [], node_errors
        return True, None, good, node_errors

    def _validate_inputs(
        self, prompt: dict[str, Any], node_id: str, validated: dict[str, tuple[bool, list[dict[str, Any]]]]
    ) -> tuple[bool, list[dict[str, Any]]]:
        if node_id in validated:
            return validated[node_id]
        node = prompt[node_id]
        inputs = node.get("inputs", {})
        class_inputs = self.object_info[node["class_type"]]["input"]
        custom = self.custom_validators.get(node["class_type"])
        errors: list[dict[str, Any]] = []
        valid = True
        for category in ("required", "optional"):
            for name, spec in (class_inputs.get(category) or {}).items():
                input_type = spec[0]
                extra = spec[1] if len(spec) > 1 else {}
                info = [input_type, extra]
                if name not in inputs:
                    if category == "required":
                        errors.append(
                            _error(
                                "required_input_missing", "Required input is missing", name, input_name=name
                            )
                        )
                    continue
                val = inputs[name]
                if isinstance(val, list):
                    if len(val) != 2:
                        message = "Bad linked input, must be a length-2 list of [node_id, slot_index]"
                        errors.append(
                            _error(
                                "bad_linked_input",
                                message,
                                name,
                                input_name=name,
                                input_config=info,
                                received_value=val,
                            )
                        )
                        continue
                    source_id = val[0]
                    received = self.object_info[prompt[source_id]["class_type"]]["output"][val[1]]
                    if not types_compatible(received, input_type):
                        details = f"{name}, received_type({received}) mismatch input_type({input_type})"
                        errors.append(
                            _error(
                                "return_type_mismatch",
                                "Return type mismatch between linked nodes",
                                details,
                                input_name=name,
                                input_config=info,
                                received_type=received,
                                linked_node=val,
                            )
                        )
                        continue
                    try:
                        ok, _ = self._validate_inputs(prompt, source_id, validated)
                    except Exception as exc:
                        reasons = [
                            _error(
                                "exception_during_inner_validation",
                                "Exception when validating inner node",
                                str(exc),
                                input_name=name,
                                input_config=info,
                                exception_message=str(exc),
                                exception_type=full_type_name(exc),
                                traceback=traceback.format_tb(exc.__traceback__),
                                linked_node=val,
                            )
                        ]
                        validated[source_id] = (False, reasons)
                        ok = False
                    if not ok:
                        valid = False
                    continue
                try:
                    converter = CONVERTERS.get(input_type) if isinstance(input_type, str) else None
                    if converter is not None:
                        val = converter(val)
                        inputs[name] = val
                except (TypeError, ValueError) as exc:
                    errors.append(
                        _error(
                            "invalid_input_type",
                            f"Failed to convert an input value to a {input_type} value",
                            f"{name}, {val}, {exc}",
                            input_name=name,
                            input_config=info,
                            received_value=val,
                            exception_message=str(exc),
                        )
                    )
                    continue
                if custom is not None and name in self.custom_covers.get(node["class_type"], {name}):
                    continue  # the inputs VALIDATE_INPUTS takes skip the generic checks
                if "min" in extra and val < extra["min"]:
                    message = f"Value {val} smaller than min of {extra['min']}"
                    errors.append(
                        _error(
                            "value_smaller_than_min",
                            message,
                            name,
                            input_name=name,
                            input_config=info,
                            received_value=val,
                        )
                    )
                    continue
                if "max" in extra and val > extra["max"]:
                    message = f"Value {val} bigger than max of {extra['max']}"
                    errors.append(
                        _error(
                            "value_bigger_than_max",
                            message,
                            name,
                            input_name=name,
                            input_config=info,
                            received_value=val,
                        )
                    )
                    continue
                if isinstance(input_type, list) and val not in input_type:
                    listing = (
                        f"(list of length {len(input_type)})" if len(input_type) > 20 else str(input_type)
                    )
                    errors.append(
                        _error(
                            "value_not_in_list",
                            "Value not in list",
                            f"{name}: '{val}' not in {listing}",
                            input_name=name,
                            input_config=None if len(input_type) > 20 else info,
                            received_value=val,
                        )
                    )
        if custom is not None:
            result = custom(inputs)
            if result is not True:
                covers = self.custom_covers.get(node["class_type"])
                name = next((n for n in inputs if covers is None or n in covers), "")
                details = name if result is False else f"{name} - {result}"
                errors.append(
                    _error(
                        "custom_validation_failed",
                        "Custom validation failed for node",
                        details,
                        input_name=name,
                    )
                )
        outcome = (not errors and valid, errors)
        validated[node_id] = outcome
        return outcome
