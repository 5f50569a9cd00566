"""An OpenAI-compatible `/v1/chat/completions` stand-in on loopback, for the breakdown's LLM engine.

It speaks the protocol of OpenAI's Chat Completions API (and Ollama's `/v1` compatibility layer):
it checks the request the way those servers do (model, messages, `response_format` of type
`json_schema` with a schema) and answers with a `chat.completion` object. What it answers is scripted:

- `script(...)` queues behaviours for the next requests: `Reply(content)`, `BROKEN_JSON`,
  `SCHEMA_VIOLATION`, `REFUSAL`, `Stall(seconds)`, `HttpError(status)`;
- with nothing queued, the first fixture in `replies/*.json` whose `match` text occurs in the user
  message is returned (its `reply` serialised as the message content).

Every request is kept in `requests` (headers and body) for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

REPLIES = Path(__file__).resolve().parent / "replies"


@dataclass(frozen=True)
class Reply:
    content: str


@dataclass(frozen=True)
class Stall:
    seconds: float


@dataclass(frozen=True)
class HttpError:
    status: int
    message: str = "stand-in error"


BROKEN_JSON = Reply('{"characters": [{"name": "Rina", "aliases": [], "description": "short black hair",')
SCHEMA_VIOLATION = Reply(
    json.dumps({"characters": [{"name": "Rina", "colour": "red"}], "shots": "many", "environments": []})
)
REFUSAL = object()


def load_replies() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(REPLIES.glob("*.json"))]


@dataclass
class StandinLlm:
    """State of one stand-in: the queue of scripted behaviours and the requests seen."""

    model: str = "standin-model"
    fixtures: list[dict[str, Any]] = field(default_factory=load_replies)
    queue: deque[Any] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def script(self, *behaviours: Any) -> None:
        self.queue.extend(behaviours)

    def reset(self) -> None:
        self.queue.clear()
        self.requests.clear()

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])])

    async def chat(self, request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid_request_error", "We could not parse the JSON body of your request.")
        self.requests.append({"headers": dict(request.headers), "body": body})
        problem = _check_request(body)
        if problem:
            return _error(400, "invalid_request_error", problem)
        if body["model"] != self.model:
            return _error(404, "not_found_error", f"model '{body['model']}' not found")
        behaviour = self.queue.popleft() if self.queue else self._fixture(body)
        while isinstance(behaviour, Stall):
            await asyncio.sleep(behaviour.seconds)
            behaviour = self.queue.popleft() if self.queue else self._fixture(body)
        if isinstance(behaviour, HttpError):
            return _error(behaviour.status, "server_error", behaviour.message)
        if behaviour is REFUSAL:
            return JSONResponse(_completion(self.model, None, refusal="I'm sorry, I can't help with that."))
        return JSONResponse(_completion(self.model, behaviour.content))

    def _fixture(self, body: dict[str, Any]) -> Reply:
        user = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
        for fixture in self.fixtures:
            if fixture["match"] in user:
                return Reply(json.dumps(fixture["reply"], ensure_ascii=False))
        return Reply(json.dumps({"error": "the stand-in has no fixture for this text"}))


def _check_request(body: Any) -> str:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for index, message in enumerate(messages):
        if message.get("role") not in ("system", "user", "assistant") or not isinstance(
            message.get("content"), str
        ):
            return f"messages[{index}] must have a role and string content"
    fmt = body.get("response_format")
    if fmt is not None:
        if fmt.get("type") != "json_schema":
            return "response_format.type must be 'json_schema' for this stand-in"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return "response_format.json_schema.schema must be a JSON schema object"
        if not (fmt.get("json_schema") or {}).get("name"):
            return "response_format.json_schema.name is required"
    return ""


def _completion(model: str, content: str | None, refusal: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    return {
        "id": f"chatcmpl-standin-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": len(content or "") // 4,
            "total_tokens": 100 + len(content or "") // 4,
        },
    }


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status)


@dataclass
class RunningLlm:
    llm: StandinLlm
    base_url: str  # ends in /v1, like Ollama's and OpenAI's


@contextlib.contextmanager
def running_llm(**options: Any) -> Iterator[RunningLlm]:
    """Start a stand-in on a free loopback port and stop it afterwards."""
    llm = StandinLlm(**options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(llm.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="llm-standin")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the LLM stand-in did not start")
        time.sleep(0.01)
    try:
        yield RunningLlm(llm, f"http://127.0.0.1:{port}/v1")
    finally:
        server.should_exit = True
        thread.join(10)
