"""ComfyUI protocol pieces: typed errors, history parsing and progress from WebSocket messages.

Shapes follow ComfyUI 0.3.64 as captured in tests/data/comfyui/. Nothing here does I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

FILE_OUTPUT_KEYS = ("images", "gifs", "videos", "audio")
"""History output keys that list files: core image *and* video nodes use `images` (video entries
carry `animated: [true]`), VideoHelperSuite uses `gifs`, some packs use `videos`."""
PREVIEW_IMAGE = 1  # binary frame: [u32 1][u32 image type: 1 JPEG, 2 PNG][image bytes]
PREVIEW_IMAGE_WITH_METADATA = 4  # [u32 4][u32 meta length][meta JSON with prompt_id, image_type][image bytes]
_PREVIEW_TYPES = {1: "image/jpeg", 2: "image/png"}


class ComfyError(Exception):
    """Base class of every error the ComfyUI client raises."""


class ComfyConnectionError(ComfyError):
    """ComfyUI could not be reached or answered with an unexpected HTTP status."""


class ComfyJobLost(ComfyError):
    """The prompt is neither queued, running nor in the history (ComfyUI restarted or it was deleted)."""


class ComfyTimeout(ComfyError, TimeoutError):
    """The prompt did not finish in the time the caller allowed; it has been cancelled."""


@dataclass(frozen=True)
class NodeProblem:
    """One refusal by ComfyUI's validation, located at a node (and input, when the server names one)."""

    node_id: str | None
    class_type: str | None
    input_name: str | None
    type: str
    message: str
    details: str = ""

    def __str__(self) -> str:
        where = f"node {self.node_id}" if self.node_id is not None else "prompt"
        if self.class_type:
            where += f" ({self.class_type})"
        if self.input_name:
            where += f" input '{self.input_name}'"
        text = f"{where}: {self.message}"
        return f"{text} [{self.details}]" if self.details else text


class ComfyValidationError(ComfyError):
    """ComfyUI refused the prompt (400, or 200 with `node_errors`); `problems` name node, class and input."""

    def __init__(
        self, error: dict[str, Any], problems: list[NodeProblem], *, partially_accepted: bool = False
    ):
        self.error = error
        self.problems = problems
        self.partially_accepted = partially_accepted
        head = error.get("message") or error.get("type") or "prompt refused"
        if partially_accepted:
            head = "ComfyUI accepted only part of the prompt"
        lines = "; ".join(str(p) for p in problems)
        super().__init__(f"{head}: {lines}" if lines else str(head))


class ComfyExecutionError(ComfyError):
    """A node raised while the prompt ran (the `execution_error` message or history entry)."""

    def __init__(self, payload: dict[str, Any]):
        self.payload = payload
        self.prompt_id: str | None = payload.get("prompt_id")
        self.node_id: str | None = _str_or_none(payload.get("node_id"))
        self.node_type: str | None = payload.get("node_type")
        self.exception_type: str = payload.get("exception_type") or ""
        self.exception_message: str = (payload.get("exception_message") or "").strip()
        self.traceback: list[str] = list(payload.get("traceback") or [])
        super().__init__(
            f"node {self.node_id} ({self.node_type}) failed: {self.exception_type}: {self.exception_message}"
        )


class ComfyInterrupted(ComfyError):
    """The prompt was interrupted or removed from the queue before it finished."""

    def __init__(self, payload: dict[str, Any] | None = None, *, reason: str = "interrupted"):
        payload = payload or {}
        self.payload = payload
        self.prompt_id: str | None = payload.get("prompt_id")
        self.node_id: str | None = _str_or_none(payload.get("node_id"))
        self.node_type: str | None = payload.get("node_type")
        where = f" at node {self.node_id} ({self.node_type})" if self.node_id else ""
        super().__init__(f"prompt {reason}{where}")


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


_NODE_ID_IN_DETAILS = re.compile(r"Node ID '#([^']+)'")


def validation_error(
    body: dict[str, Any], graph: dict[str, Any], *, partial: bool = False
) -> ComfyValidationError:
    """Build a ComfyValidationError from a `/prompt` answer (`error` + `node_errors`)."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {"message": str(body.get("error"))}
    problems: list[NodeProblem] = []
    for node_id, entry in (body.get("node_errors") or {}).items():
        class_type = entry.get("class_type") or graph.get(node_id, {}).get("class_type")
        for err in entry.get("errors") or []:
            extra = err.get("extra_info") or {}
            problems.append(
                NodeProblem(
                    node_id=str(node_id),
                    class_type=class_type,
                    input_name=extra.get("input_name") or _input_from_details(err.get("details", "")),
                    type=err.get("type", ""),
                    message=err.get("message", ""),
                    details=err.get("details", ""),
                )
            )
    if not problems:
        # Graph-level refusals (unknown class, missing class_type) carry the node only in `details`.
        match = _NODE_ID_IN_DETAILS.search(str(error.get("details", "")))
        node_id = match.group(1) if match else None
        problems.append(
            NodeProblem(
                node_id=node_id,
                class_type=graph.get(node_id, {}).get("class_type") if node_id else None,
                input_name=None,
                type=error.get("type", ""),
                message=error.get("message", ""),
                details=error.get("details", ""),
            )
        )
    return ComfyValidationError(error, problems, partially_accepted=partial)


def _input_from_details(details: str) -> str | None:
    # min/max errors carry the input name only as `details` ("width"); others start with "name:" / "name,".
    head = re.split(r"[:, ]", details, maxsplit=1)[0] if details else ""
    return head or None


def raise_for_history(entry: dict[str, Any]) -> None:
    """Raise ComfyExecutionError / ComfyInterrupted when a history entry records a failed run."""
    status = entry.get("status") or {}
    if status.get("status_str", "success") == "success" and status.get("completed", True):
        return
    for kind, data in reversed(status.get("messages") or []):
        if kind == "execution_error":
            raise ComfyExecutionError(data)
        if kind == "execution_interrupted":
            raise ComfyInterrupted(data)
    raise ComfyExecutionError({"exception_message": f"ComfyUI reports status {status.get('status_str')!r}"})


@dataclass(frozen=True)
class OutputFile:
    """One file a node wrote, as listed in the history (`/view` coordinates)."""

    node_id: str
    filename: str
    subfolder: str
    type: str
    animated: bool


def output_files(
    entry: dict[str, Any], node_ids: list[str] | None = None, *, include_temp: bool = False
) -> list[OutputFile]:
    """Every file entry under `images`/`gifs`/`videos`/`audio` of the history entry's outputs."""
    files: list[OutputFile] = []
    for node_id, output in (entry.get("outputs") or {}).items():
        if node_ids is not None and node_id not in node_ids:
            continue
        animated = any(output.get("animated") or [])
        for key in FILE_OUTPUT_KEYS:
            for item in output.get(key) or []:
                if not isinstance(item, dict) or "filename" not in item:
                    continue
                kind = item.get("type", "output")
                if kind == "temp" and not include_temp:
                    continue
                files.append(
                    OutputFile(
                        node_id=str(node_id),
                        filename=item["filename"],
                        subfolder=item.get("subfolder", ""),
                        type=kind,
                        animated=animated or key in ("gifs", "videos"),
                    )
                )
    return files


@dataclass
class ProgressTracker:
    """Turns `execution_*`, `executing`, `progress` and `progress_state` messages into (fraction, stage)."""

    graph: dict[str, Any]
    fraction: float = 0.0
    stage: str = "queued"
    _cached: set[str] = field(default_factory=set)
    _finished: set[str] = field(default_factory=set)
    _running: dict[str, float] = field(default_factory=dict)

    def update(self, kind: str, data: dict[str, Any]) -> bool:
        """Apply one message; True when fraction or stage changed."""
        before = (self.fraction, self.stage)
        if kind == "execution_start":
            self.stage = "started"
        elif kind == "execution_cached":
            self._cached = {str(n) for n in data.get("nodes") or []}
        elif kind == "executing" and data.get("node") is not None:
            node = str(data["node"])
            self._running.setdefault(node, 0.0)
            self.stage = self._label(node)
        elif kind == "progress":
            node = _str_or_none(data.get("node"))
            value, maximum = data.get("value", 0), data.get("max") or 1
            if node is not None:
                self._running[node] = min(1.0, value / maximum)
                self.stage = f"{self._label(node)} {value}/{maximum}"
        elif kind == "progress_state":
            for node, state in (data.get("nodes") or {}).items():
                if state.get("state") == "finished":
                    self._finished.add(str(node))
                    self._running.pop(str(node), None)
                elif state.get("state") == "running":
                    maximum = state.get("max") or 1
                    self._running[str(node)] = min(1.0, state.get("value", 0) / maximum)
        elif kind == "execution_success":
            self.fraction, self.stage = 1.0, "finished"
        self._recompute()
        return (self.fraction, self.stage) != before

    def _label(self, node: str) -> str:
        return f"{self.graph.get(node, {}).get('class_type', 'node')} (node {node})"

    def _recompute(self) -> None:
        total = max(1, len(self.graph) - len(self._cached))
        done = len(self._finished - self._cached) + sum(
            v for n, v in self._running.items() if n not in self._finished
        )
        # Never step backwards (a late progress_state must not make the bar jump down), and keep 1.0
        # for "finished": the last node may report 100 % while it is still writing its file.
        self.fraction = max(self.fraction, min(0.99, done / total))


@dataclass(frozen=True)
class Preview:
    """A preview image from a binary WebSocket frame; `prompt_id` only when the frame names it (event 4)."""

    mime: str
    data: bytes
    prompt_id: str | None = None


def parse_preview(frame: bytes) -> Preview | None:
    """ComfyUI's binary preview frames (protocol.py); None for other events or a malformed frame."""
    if len(frame) < 8:
        return None
    event = int.from_bytes(frame[:4], "big")
    if event == PREVIEW_IMAGE:
        mime = _PREVIEW_TYPES.get(int.from_bytes(frame[4:8], "big"))
        return Preview(mime, frame[8:]) if mime and len(frame) > 8 else None
    if event == PREVIEW_IMAGE_WITH_METADATA:
        size = int.from_bytes(frame[4:8], "big")
        try:
            meta = json.loads(frame[8 : 8 + size])
        except ValueError:
            return None
        mime = meta.get("image_type") if isinstance(meta, dict) else None
        data = frame[8 + size :]
        if mime not in _PREVIEW_TYPES.values() or not data:
            return None
        prompt_id = meta.get("prompt_id")
        return Preview(mime, data, prompt_id if isinstance(prompt_id, str) else None)
    return None
