"""The agent's ComfyUI node catalogue on the server (`PUT /api/farm/agents/{id}/object-info`).

Sent once the agent is registered and its ComfyUI answers, and again after every new ComfyUI connection:
a restart drops the WebSocket (the client reconnects under a new clientId) and may have added or removed
nodes. The server checks submitted workflows against what its agents' ComfyUIs really have.
"""

from __future__ import annotations

import logging

from render_agent.comfyui import ComfyClient
from render_agent.comfyui_messages import ComfyError
from render_agent.server_client import FarmAuthError, FarmClient, FarmError, FarmRefused

log = logging.getLogger(__name__)


class CatalogueReport:
    """Keeps the server's copy of one ComfyUI's `/object_info` current for one agent."""

    def __init__(self, comfy: ComfyClient, farm: FarmClient) -> None:
        self.comfy, self.farm = comfy, farm
        self.sha256: str | None = None  # what the server stored last
        self._sent_for: tuple[str, str] | None = None  # (agent id, ComfyUI connection) it was sent for

    async def refresh(self, agent_id: str) -> None:
        """Send the catalogue unless this agent already sent it over this ComfyUI connection. Failures are
        logged (and tried again at the next call, unless the server refused it); a refused API key is
        raised."""
        key = (agent_id, self.comfy.client_id)
        if key == self._sent_for:
            return
        try:
            info = await self.comfy.object_info()
            self.sha256 = await self.farm.put_object_info(agent_id, info)
        except FarmAuthError:
            raise
        except FarmRefused as exc:  # the same catalogue would be refused again: not resent until a restart
            log.error("the server refused ComfyUI's node catalogue: %s", exc)
            self._sent_for = key
            return
        except (ComfyError, FarmError) as exc:
            log.warning("ComfyUI node catalogue not sent (%s); trying again before the next claim", exc)
            return
        self._sent_for = key
        log.info("sent ComfyUI's node catalogue (%d node classes, sha256 %.12s)", len(info), self.sha256)
