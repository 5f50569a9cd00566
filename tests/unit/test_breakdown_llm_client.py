"""The LLM client against the OpenAI-compatible stand-in on loopback: what it sends, what it accepts, and
how it names each failure."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from sync_server.breakdown.llm import LlmConfig, LlmError, run_pieces
from sync_server.breakdown.templates import BUILTIN, SYSTEM, USER
from tests.llm_standin.server import SCHEMA_VIOLATION, Reply, RunningLlm, running_llm

PIECE = "At night, rain falls on a narrow alley in old Seoul."


@pytest.fixture(scope="module")
def standin() -> Iterator[RunningLlm]:
    with running_llm() as running:
        yield running


@pytest.fixture
def config(standin: RunningLlm) -> LlmConfig:
    standin.llm.reset()
    return LlmConfig(standin.base_url, standin.llm.model, None, timeout_s=5, max_attempts=2)


def _fixture_reply(standin: RunningLlm) -> str:
    return json.dumps(next(f for f in standin.llm.fixtures if f["match"] in PIECE)["reply"])


def test_a_json_reply_in_a_code_fence_is_accepted(standin: RunningLlm, config: LlmConfig) -> None:
    standin.llm.script(Reply("```json\n" + _fixture_reply(standin) + "\n```"))
    replies, run = run_pieces(config, BUILTIN[SYSTEM], BUILTIN[USER], [PIECE], script_format="prose")
    assert [c.name for c in replies[0].characters] == ["Rina", "Minsu"] and run.attempts == [1]
    body = standin.llm.requests[0]["body"]
    assert body["temperature"] == 0 and body["response_format"]["json_schema"]["strict"] is True
    assert "authorization" not in standin.llm.requests[0]["headers"]  # no key configured, none sent
    assert run.usage["prompt_tokens"] == 100


def test_the_last_problem_is_reported_after_the_last_attempt(standin: RunningLlm, config: LlmConfig) -> None:
    standin.llm.script(SCHEMA_VIOLATION, Reply("[]"))
    with pytest.raises(LlmError) as caught:
        run_pieces(config, "s", "$script", [PIECE], script_format="prose")
    assert caught.value.kind == "invalid" and caught.value.attempts == 2
    assert "after 2 attempts" in caught.value.message and "(top level)" in caught.value.message


def test_an_unknown_model_is_named(standin: RunningLlm, config: LlmConfig) -> None:
    wrong = LlmConfig(config.base_url, "no-such-model", None, 5, 2)
    with pytest.raises(LlmError, match="model 'no-such-model' installed"):
        run_pieces(wrong, "s", "$script", [PIECE], script_format="prose")


def test_an_endpoint_nobody_listens_on_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = LlmConfig(f"http://127.0.0.1:{port}/v1", "m", None, 2, 2)
    with pytest.raises(LlmError) as caught:
        run_pieces(config, "s", "$script", [PIECE], script_format="prose")
    assert caught.value.kind == "unreachable" and "AIPIPE_LLM_BASE_URL" in caught.value.message
