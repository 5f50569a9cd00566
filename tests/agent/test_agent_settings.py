"""Agent settings (AIPIPE_AGENT_*, no URL hard-coded) and the agent's own command (`aipipe-agent`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from render_agent.cli import app
from render_agent.settings import AgentSettings
from tests.agent.fake_farm import FarmServer, fake_farm_fixture  # noqa: F401  (the fake_farm fixture)


def test_settings_come_from_aipipe_agent_variables_with_comma_lists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIPIPE_AGENT_SERVER_URL", "https://farm.studio.lan/")
    monkeypatch.setenv("AIPIPE_AGENT_API_KEY", "aip_secret")
    monkeypatch.setenv("AIPIPE_AGENT_COMFYUI_URL", "http://127.0.0.1:8188")
    monkeypatch.setenv("AIPIPE_AGENT_TAGS", "wan, studio-a")
    monkeypatch.setenv("AIPIPE_AGENT_JOB_TYPES", '["i2v", "upscale"]')
    monkeypatch.setenv("AIPIPE_AGENT_ON_SIGTERM", "release")
    monkeypatch.setenv("AIPIPE_AGENT_SEGMENT_CACHE_GB", "120")

    settings = AgentSettings(_env_file=None, work_dir=tmp_path)  # type: ignore[call-arg]

    assert settings.server_url == "https://farm.studio.lan"
    assert settings.api_key.get_secret_value() == "aip_secret" and "aip_secret" not in repr(settings)
    assert (settings.tags, settings.job_types) == (["wan", "studio-a"], ["i2v", "upscale"])
    assert settings.on_sigterm == "release" and settings.heartbeat_s is None
    assert settings.segment_cache_gb == 120
    assert settings.resolved_outbox_path == tmp_path / "outbox.db"


def test_the_server_url_has_no_default_and_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIPIPE_AGENT_SERVER_URL", raising=False)
    with pytest.raises(ValidationError, match="server_url"):
        AgentSettings(_env_file=None, api_key="aip_x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="http:// or https://"):
        AgentSettings(_env_file=None, api_key="aip_x", server_url="farm.lan:8000")  # type: ignore[call-arg]


def test_aipipe_agent_with_a_refused_api_key_stops_with_exit_code_2(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--server",
            fake_farm.url,
            "--api-key",
            "aip_wrong",
            "--work-dir",
            str(tmp_path),
            "--tags",
            "a,b",
        ],
    )

    assert result.exit_code == 2, result.output
    assert [c.kind for c in fake_farm.farm.calls] == []  # refused before anything was recorded


def test_aipipe_agent_refuses_an_unknown_sigterm_mode(tmp_path: Path) -> None:
    args = ["--server", "http://127.0.0.1:1", "--api-key", "k", "--on-sigterm", "abort"]
    result = CliRunner().invoke(app, [*args, "--work-dir", str(tmp_path)])

    assert result.exit_code == 2 and "on_sigterm" in result.output
