"""Waiting on an asyncio event with a time limit, without losing a cancellation.

On Python 3.11, `asyncio.wait_for(event.wait(), t)` swallows a cancellation that arrives just as the
event is set: the cancelled task carries on (a job the agent was told to stop ran to its end). The
`asyncio.timeout` context manager does not have that flaw.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout_s: float | None) -> bool:
    """True once `event` is set, False after `timeout_s` (None: no limit); cancellation propagates."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True
