"""The farm protocol's version (docs/agent-protocol.md): an agent sends it when it registers; the server
serves a range of versions and refuses an agent outside it, saying which versions work.

History:
  1  the protocol before versions existed: an agent that sends no `protocol_version` speaks it.
  2  `protocol_version` in the registration; the agent sends its ComfyUI's /object_info on start and
     whenever its ComfyUI restarted (`PUT /api/farm/agents/{id}/object-info`).
Raise PROTOCOL_VERSION when a message changes; raise OLDEST_PROTOCOL_VERSION when the server stops
understanding an old agent.
"""

from __future__ import annotations

PROTOCOL_VERSION = 2  # what this code speaks (the agent sends it; the server's newest)
OLDEST_PROTOCOL_VERSION = 1  # the oldest the server still serves
IMPLIED_PROTOCOL_VERSION = 1  # a registration without `protocol_version` (agents before version 2)


def supported_versions() -> range:
    """The protocol versions this server serves."""
    return range(OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION + 1)


def refusal(version: int) -> str | None:
    """Why an agent speaking `version` cannot be served (which versions work, which side to upgrade);
    None when it can."""
    if version in supported_versions():
        return None
    works = f"farm protocol versions {OLDEST_PROTOCOL_VERSION} to {PROTOCOL_VERSION} work with this server"
    if version < OLDEST_PROTOCOL_VERSION:
        return f"The agent speaks farm protocol version {version}, too old: {works}; upgrade the agent."
    return f"The agent speaks farm protocol version {version}, too new: {works}; upgrade the server."
