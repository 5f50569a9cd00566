"""The LLM engine: each piece of the script goes to an OpenAI-compatible `/chat/completions` endpoint
with a JSON-schema `response_format`; a reply that is not valid JSON or breaks the schema is sent back
with what was wrong, up to `max_attempts` times. Timeouts, refusals and unreachable endpoints are
reported as `LlmError`s that say which piece failed and why. Nothing is stored here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from string import Template
from typing import Any

import httpx

from .llm_schema import SCHEMA_NAME, InvalidReply, LlmBreakdown, check_reply, json_schema

log = logging.getLogger(__name__)


class LlmError(Exception):
    """The LLM could not produce a breakdown. `kind`: unreachable, timeout, refused, invalid, http."""

    def __init__(self, kind: str, message: str, *, piece: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.kind, self.message, self.piece, self.attempts = kind, message, piece, attempts


@dataclass(frozen=True)
class LlmConfig:
    base_url: str
    model: str
    api_key: str | None
    timeout_s: float
    max_attempts: int

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


@dataclass
class LlmRun:
    """What the engine did, kept on the draft: model, pieces, attempts per piece, seconds."""

    model: str
    endpoint: str
    pieces: int = 0
    attempts: list[int] = field(default_factory=list)
    seconds: float = 0.0
    usage: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "endpoint": self.endpoint,
            "pieces": self.pieces,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
            "usage": self.usage,
        }


def _headers(config: LlmConfig) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    return headers


def _request_body(config: LlmConfig, messages: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "model": config.model,
        "messages": messages,
        "temperature": 0,
        "seed": 0,
        "stream": False,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": json_schema()},
        },
    }


def _reply_text(config: LlmConfig, response: httpx.Response, piece: int, attempt: int) -> tuple[str, str]:
    """(content, finish_reason) of a chat completion, or LlmError for refusals and HTTP errors."""
    if response.status_code in (401, 403):
        raise LlmError(
            "http",
            f"the LLM endpoint {config.endpoint} refused the API key (HTTP {response.status_code}); "
            "check AIPIPE_LLM_API_KEY",
            piece=piece,
            attempts=attempt,
        )
    if response.status_code == 404:
        raise LlmError(
            "http",
            f"the LLM endpoint {config.endpoint} answered 404: is the model '{config.model}' installed "
            "(ollama pull) and is AIPIPE_LLM_BASE_URL the /v1 base?",
            piece=piece,
            attempts=attempt,
        )
    if response.is_error:
        raise LlmError(
            "http",
            f"the LLM endpoint {config.endpoint} answered HTTP {response.status_code}: "
            f"{response.text.strip()[:300]}",
            piece=piece,
            attempts=attempt,
        )
    try:
        body = response.json()
        choice = body["choices"][0]
        message = choice["message"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LlmError(
            "http",
            f"the LLM endpoint {config.endpoint} did not answer with a chat completion",
            piece=piece,
            attempts=attempt,
        ) from exc
    refusal = message.get("refusal")
    if refusal or choice.get("finish_reason") == "content_filter":
        raise LlmError(
            "refused",
            f"the model refused to break down part {piece}: {refusal or 'content filter'}",
            piece=piece,
            attempts=attempt,
        )
    return message.get("content") or "", choice.get("finish_reason") or ""


def _parse(content: str, finish_reason: str) -> LlmBreakdown:
    if finish_reason == "length":
        raise InvalidReply("the reply was cut off (finish_reason 'length'): answer more briefly")
    text = content.strip()
    if text.startswith("```"):  # some local models wrap JSON in a fence despite the schema
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidReply(f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc
    return check_reply(data)


def run_pieces(
    config: LlmConfig,
    system_prompt: str,
    user_template: str,
    pieces: Sequence[str],
    *,
    script_format: str,
    transport: httpx.BaseTransport | None = None,
    on_piece: Callable[[int, int], None] | None = None,
) -> tuple[list[LlmBreakdown], LlmRun]:
    """Break down every piece; all or nothing (the first piece that fails raises LlmError)."""
    run = LlmRun(model=config.model, endpoint=config.endpoint, pieces=len(pieces))
    started = time.monotonic()
    replies: list[LlmBreakdown] = []
    timeout = httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s))
    with httpx.Client(timeout=timeout, transport=transport, trust_env=False) as client:
        for index, piece in enumerate(pieces, start=1):
            if on_piece:
                on_piece(index, len(pieces))
            user = Template(user_template).safe_substitute(
                script=piece, part=str(index), parts=str(len(pieces)), format=script_format
            )
            messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": user}]
            reply, attempts = _one_piece(client, config, messages, index, run)
            replies.append(reply)
            run.attempts.append(attempts)
    run.seconds = time.monotonic() - started
    return replies, run


def _one_piece(
    client: httpx.Client, config: LlmConfig, messages: list[dict[str, str]], piece: int, run: LlmRun
) -> tuple[LlmBreakdown, int]:
    problem = ""
    for attempt in range(1, config.max_attempts + 1):
        try:
            response = client.post(
                config.endpoint, json=_request_body(config, messages), headers=_headers(config)
            )
        except httpx.TimeoutException as exc:
            raise LlmError(
                "timeout",
                f"the LLM at {config.endpoint} did not answer part {piece} within {config.timeout_s:g} s "
                "(AIPIPE_LLM_TIMEOUT_S); a smaller model or smaller parts (AIPIPE_LLM_CHUNK_CHARS) may help",
                piece=piece,
                attempts=attempt,
            ) from exc
        except httpx.HTTPError as exc:
            raise LlmError(
                "unreachable",
                f"cannot reach the LLM at {config.endpoint}: {exc.__class__.__name__}: {exc}. Is the server "
                "(e.g. Ollama) running, and is AIPIPE_LLM_BASE_URL right?",
                piece=piece,
                attempts=attempt,
            ) from exc
        content, finish_reason = _reply_text(config, response, piece, attempt)
        _add_usage(run, response)
        try:
            return _parse(content, finish_reason), attempt
        except InvalidReply as exc:
            problem = str(exc)
            log.warning("LLM reply for part %d (attempt %d) %s", piece, attempt, problem)
            messages = [
                *messages[:2],
                {"role": "assistant", "content": content[:20000]},
                {
                    "role": "user",
                    "content": f"That reply {problem}. Reply again with only the JSON object that matches "
                    "the schema, nothing else.",
                },
            ]
    raise LlmError(
        "invalid",
        f"the LLM's reply for part {piece} was still invalid after {config.max_attempts} attempts: the last "
        f"one {problem}",
        piece=piece,
        attempts=config.max_attempts,
    )


def _add_usage(run: LlmRun, response: httpx.Response) -> None:
    try:
        usage = response.json().get("usage") or {}
    except ValueError:
        return
    for key in ("prompt_tokens", "completion_tokens"):
        if isinstance(usage.get(key), int):
            run.usage[key] = run.usage.get(key, 0) + usage[key]
