"""Running a coroutine from a test, whatever else the test process runs.

The browser tests' session-wide Playwright (its sync API) keeps an event loop running in the main thread of
the worker that ran them, and `asyncio.run` refuses to start beside it ("cannot be called from a running
event loop"): a test that ran after them in the same worker failed for that alone. `run` starts its own loop
in a thread of its own, so it works in any order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coroutine)` in a thread of its own; its result, or its exception raised here."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-asyncio") as pool:
        return pool.submit(asyncio.run, coroutine).result()
