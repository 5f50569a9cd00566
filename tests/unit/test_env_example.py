"""Every setting a user can give is written down in .env.example (with its default or an example)."""

from __future__ import annotations

import re
from pathlib import Path

from render_agent.settings import AgentSettings
from sync_server.camera.settings import CameraSettings
from sync_server.ingest.settings import IngestSettings
from sync_server.settings import Settings
from sync_server.shotlist.settings import ShotlistSettings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def _documented() -> set[str]:
    return set(
        re.findall(r"^#?\s*(AIPIPE_[A-Z0-9_]+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE)
    )


def test_every_server_and_agent_setting_is_in_env_example() -> None:
    documented = _documented()
    wanted = {f"AIPIPE_{name.upper()}" for name in Settings.model_fields}
    for prefix, model in (
        ("AGENT", AgentSettings),
        ("SHOTLIST", ShotlistSettings),
        ("INGEST", IngestSettings),
        ("CAMERA", CameraSettings),
    ):
        wanted |= {f"AIPIPE_{prefix}_{name.upper()}" for name in model.model_fields}
    missing = sorted(wanted - documented)
    assert not missing, f".env.example lacks {missing}"
    cli = {"AIPIPE_SERVER_URL", "AIPIPE_API_KEY", "AIPIPE_TEST_PG_URL"}  # read by the HTTP commands / tests
    unknown = sorted(documented - wanted - cli)
    assert not unknown, f".env.example names settings that do not exist: {unknown}"
