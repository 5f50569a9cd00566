"""The add-on's main-thread stalls while 800 takes arrive as events (issue 14: longest stall < 50 ms).

Runs in background Blender (a Blender venv's `bpy` module) with the add-on enabled as Blender enables it.
A stand-in server on loopback speaks the event stream's protocol (docs/events.md: WebSocket, `hello`, then
`event` messages) and answers `GET /api/shots/{id}/takes`. It sends `--events` `version.created` events of
previz takes spread over `--shots` shots, all at once (the worst case: a whole batch finishing together) or
`--rate` per second (takes finishing over time). They travel the add-on's real path: the `EventListener`
thread, `Worker.post`, the main-thread `drain()` the add-on's timer runs every 0.1 s, `Runtime.dispatch`
and every feature's handler (the image loop counts each take and refreshes the compared shot's take list,
one fetch at a time).

The main thread here does what Blender's does between timer calls: nothing of ours. Each timer call
(`runtime._tick`) is timed; its length is the stall the artist would feel. Reported: events seen, ticks,
max / p99 / median tick, the refreshes of the compared shot and the machine's load.

    .venv-blender-5.0/bin/python scripts/bench_addon_takes.py [--events 800] [--shots 200]
        [--watched 100] [--rate 0]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import socketserver
import statistics
import struct
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455


def _frame(text: str) -> bytes:
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = bytes([0x81, size])
    elif size < 65536:
        head = bytes([0x81, 126]) + struct.pack("!H", size)
    else:
        head = bytes([0x81, 127]) + struct.pack("!Q", size)
    return head + payload


def _take(shot_id: str, number: int) -> dict[str, Any]:
    version = {
        "id": f"{shot_id}-v{number:03d}",
        "shot_id": shot_id,
        "project_id": "bench",
        "stage": "previz",
        "number": number,
        "code": f"{shot_id}_previz_v{number:03d}",
        "verdict": None,
        "files": [
            {
                "name": f"take_{number:03d}.png",
                "mime": "image/png",
                "url": f"/files/{number}",
                "sha256": "00" * 32,
            }
        ],
    }
    provenance = {"workflow": "flux1_dev_t2i", "operation": "generate", "seed": 1000 + number, "steps": 20}
    return {"version": version, "provenance": provenance, "verdict": None, "is_first_frame": False}


class Feed:
    """The events to send and the takes the watched shot has."""

    def __init__(self, events: int, shots: int, watched: int, rate: float = 0.0) -> None:
        self.watched_shot = "shot-0000"
        self.rate = rate
        self.messages: list[str] = []
        numbers: dict[str, int] = {}
        for index in range(events):
            shot = self.watched_shot if index < watched else f"shot-{1 + index % max(1, shots - 1):04d}"
            numbers[shot] = numbers.get(shot, 0) + 1
            data = _take(shot, numbers[shot])["version"]
            message = {"type": "event", "id": index + 1, "action": "version.created", "entity": "version"}
            message.update(entity_id=data["id"], project_id="bench", data=data)
            self.messages.append(json.dumps(message))
        self.takes = [_take(self.watched_shot, n) for n in range(1, numbers.get(self.watched_shot, 0) + 1)]
        self.takes_served = 0
        self.sent = threading.Event()


def handler_for(feed: Feed) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:
            if self.path.startswith("/api/events"):
                self._events()
            elif self.path.startswith(f"/api/shots/{feed.watched_shot}/takes"):
                feed.takes_served += 1
                body = json.dumps({"items": feed.takes, "total": len(feed.takes)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def _events(self) -> None:
            key = self.headers["Sec-WebSocket-Key"]
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            self.wfile.write(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
            self.wfile.write(_frame(json.dumps({"type": "hello", "last_event_id": 0})))
            gap = 1.0 / feed.rate if feed.rate else 0.0
            for message in feed.messages:
                self.wfile.write(_frame(message))
                if gap:
                    self.wfile.flush()
                    time.sleep(gap)
            self.wfile.flush()
            feed.sent.set()
            try:
                while self.connection.recv(65536):  # hold the stream open until the add-on closes it
                    pass
            except OSError:
                return

    return Handler


def run(args: argparse.Namespace) -> dict[str, Any]:
    import importlib

    import bpy

    addon_utils = importlib.import_module("addon_utils")  # Blender's own module: on the path once bpy is

    config = tempfile.mkdtemp(prefix="aipipe-bench-")
    os.environ["AIPIPELINE_CONFIG_DIR"] = config
    bpy.context.preferences.system.use_online_access = True
    addon_utils.enable("blender_addon", default_set=True, handle_error=None)
    from blender_addon import runtime
    from blender_addon.core.client import ApiClient

    feed = Feed(args.events, args.shots, args.watched, args.rate)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(feed))
    socketserver.TCPServer.allow_reuse_address = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rt = runtime.get()
    rt.client = ApiClient(f"http://127.0.0.1:{server.server_address[1]}", rt.tokens)
    rt.client.use_api_key("aip_bench")
    rt.state = "online"
    state = bpy.context.window_manager.aipipe_images
    state.shot_id, state.shot_code = feed.watched_shot, "SH0000"  # the artist compares this shot's takes
    ticks: list[float] = []
    started = time.perf_counter()
    rt.start_listening("bench")
    deadline = started + args.timeout
    arrivals = None
    while time.perf_counter() < deadline:
        time.sleep(runtime.TIMER_INTERVAL_S)  # Blender's main thread between timer calls
        before = time.perf_counter()
        runtime._tick()  # the add-on's timer callback: drain the apply queue, follow progress
        ticks.append(time.perf_counter() - before)
        arrivals = rt.extras.get("images_arrivals")
        done = arrivals is not None and arrivals.total >= args.events and not rt.worker.busy
        if done and rt.worker.pending() == 0 and not arrivals.refreshing:
            break
    elapsed = time.perf_counter() - started
    seen = arrivals.total if arrivals else 0
    listed = len(state.takes)
    rt.stop_listening()
    server.shutdown()
    addon_utils.disable("blender_addon", default_set=True)
    busy = [t for t in ticks if t > 0.0005] or [0.0]
    ordered = sorted(ticks)
    return {
        "blender": bpy.app.version_string,
        "events": args.events,
        "seen": seen,
        "listed": listed,
        "watched_takes": len(feed.takes),
        "refreshes": feed.takes_served,
        "ticks": len(ticks),
        "max_ms": max(ticks) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "median_busy_ms": statistics.median(busy) * 1000,
        "seconds": elapsed,
        "load": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=800)
    parser.add_argument("--shots", type=int, default=200)
    parser.add_argument("--watched", type=int, default=100, help="events of the shot being compared")
    parser.add_argument("--rate", type=float, default=0.0, help="events per second (0: all at once)")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    result = run(args)
    load = ", ".join(f"{x:.2f}" for x in result["load"])
    print(
        f"Blender {result['blender']}: {result['seen']}/{result['events']} take events "
        f"in {result['seconds']:.2f} s, "
        f"{result['ticks']} timer ticks; longest main-thread stall {result['max_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, median busy tick {result['median_busy_ms']:.2f} ms; "
        f"compared shot refreshed {result['refreshes']} times, {result['listed']}/{result['watched_takes']} "
        f"takes listed; load average {load}"
    )
    target = 50.0
    print(f"target: longest stall < {target:.0f} ms: {'met' if result['max_ms'] < target else 'NOT met'}")
    if result["seen"] != result["events"] or result["listed"] != result["watched_takes"]:
        sys.exit("not every event reached the add-on (or the compared shot's list is short)")


if __name__ == "__main__":
    main()
