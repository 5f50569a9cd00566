"""The web pages' live event stream (`LiveEvents` in sync_server/web/static/js/api.js), run in Node with the
browser objects it touches stubbed: event ids do not always arrive in increasing order (the server's own
commits may overtake a child process's events, which follow with lower ids, docs/events.md), so the page
handles an event with a lower id than the last one, skips only an event it already handled, and resumes
from the last event it received."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.node import run_module_script

HARNESS = """
const sockets = [];
class FakeSocket {
  static OPEN = 1;
  constructor(url) { this.url = String(url); this.readyState = 1; sockets.push(this); }
  send() {}
  close() { this.readyState = 3; }
}
const boot = { texts: {}, ws_ping_interval_s: 20 };
const session = { access_token: "t", refresh_token: "r", access_expires_at: Date.now() + 3600e3 };
globalThis.document = {
  getElementById: (id) => (id === "aipipe-boot" ? { textContent: JSON.stringify(boot) } : null),
  addEventListener: () => {},
  visibilityState: "visible",
};
globalThis.localStorage = { getItem: () => JSON.stringify(session), setItem: () => {}, removeItem: () => {} };
globalThis.addEventListener = () => {};
globalThis.location = { origin: "http://server.test", protocol: "http:" };
globalThis.WebSocket = FakeSocket;

const { LiveEvents } = await import("./api.mjs");
const handled = [];
const live = await new LiveEvents({ onEvent: (m) => handled.push(m.id) }).start();
const send = (message) => sockets.at(-1).onmessage({ data: JSON.stringify(message) });
send({ type: "hello", last_event_id: 10, resumed_from: null });
for (const id of IDS) send({ type: "event", id, action: "shot.updated" });
const lastId = live.lastId;
sockets.at(-1).readyState = 3; // the connection dropped
live.kick();
await new Promise((resolve) => setTimeout(resolve, 0));
live.stop();
console.log(JSON.stringify({ handled, lastId, resumeUrl: sockets.at(-1).url, connections: sockets.length }));
"""


def _run(tmp_path: Path, ids: list[int]) -> dict[str, object]:
    return run_module_script(tmp_path, HARNESS.replace("IDS", json.dumps(ids)), {"api.js": "api.mjs"})


def test_events_with_lower_ids_after_a_higher_one_are_handled_once_each(tmp_path: Path) -> None:
    # The edit (13) overtook the child's events (11, 12); the replay or a repeat sends 13 and 12 again.
    got = _run(tmp_path, [13, 11, 12, 13, 12])
    assert got["handled"] == [13, 11, 12]
    # It resumes from the last event it received (the server replays what was sent after that one).
    assert got["lastId"] == 12
    assert got["connections"] == 2
    assert "since=12" in str(got["resumeUrl"])


def test_events_in_order_are_handled_and_resumed_from_as_before(tmp_path: Path) -> None:
    got = _run(tmp_path, [11, 12, 14])
    assert got["handled"] == [11, 12, 14]
    assert got["lastId"] == 14 and "since=14" in str(got["resumeUrl"])
