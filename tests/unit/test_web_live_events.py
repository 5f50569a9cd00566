"""The web pages' live event stream (`LiveEvents` in sync_server/web/static/js/api.js), run in Node with the
browser objects it touches stubbed: event ids do not always arrive in increasing order (the server's own
commits may overtake a child process's events, which follow with lower ids, docs/events.md), so the page
handles an event with a lower id than the last one, skips only an event it already handled, and resumes
from the last event it received. And the page's reads of its data (`load`) are kept in step with the stream:
the first one begins once the stream said hello (it is then read once), or failed, or HELLO_WAIT_MS later at
most (a held stream), and one that began before the hello is read again after it, one read at a time."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.node import run_module_script

STUBS = """
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
const send = (message) => sockets.at(-1).onmessage({ data: JSON.stringify(message) });
const hello = { type: "hello", last_event_id: 10, resumed_from: null };
const { LiveEvents } = await import("./api.mjs");
"""

HARNESS = """
const handled = [];
const live = await new LiveEvents({ onEvent: (m) => handled.push(m.id) }).start();
send(hello);
for (const id of IDS) send({ type: "event", id, action: "shot.updated" });
const lastId = live.lastId;
sockets.at(-1).readyState = 3; // the connection dropped
live.kick();
await new Promise((resolve) => setTimeout(resolve, 0));
live.stop();
console.log(JSON.stringify({ handled, lastId, resumeUrl: sockets.at(-1).url, connections: sockets.length }));
"""


def _run(tmp_path: Path, ids: list[int]) -> dict[str, object]:
    return run_module_script(tmp_path, STUBS + HARNESS.replace("IDS", json.dumps(ids)), {"api.js": "api.mjs"})


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


READS = """
// Each read of the page's data logs when it begins and ends; the test ends it (`finish()`).
const log = [];
const endings = [];
const load = () => {
  const n = log.filter((line) => line.startsWith("begin")).length + 1;
  log.push(`begin ${n}`);
  return new Promise((resolve) => endings.push(() => { log.push(`end ${n}`); resolve(); }));
};
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const finish = async () => { endings.shift()(); await settle(); };
const note = (line) => log.push(line);
const live = new LiveEvents({ onEvent: () => {}, load });
live.helloWaitMs = WAIT; // the first read's longest wait for the hello (0: at once)
const began = Date.now();
SCENARIO
live.stop();
console.log(JSON.stringify({ log, startMs: Date.now() - began }));
"""


def _reads(tmp_path: Path, scenario: str, wait_ms: int = 0) -> dict[str, object]:
    script = STUBS + READS.replace("SCENARIO", scenario).replace("WAIT", str(wait_ms))
    return run_module_script(tmp_path, script, {"api.js": "api.mjs"})


def test_a_hello_that_comes_at_once_is_waited_for_and_the_data_read_once(tmp_path: Path) -> None:
    # Read at once, the data was read again at the hello, which came during the read (a quick stream).
    got = _reads(
        tmp_path,
        """
        const started = live.start();
        await settle();
        note("hello"); send(hello); await settle();
        await finish();
        await started;
        note("started");
        await settle();
        """,
        wait_ms=5000,
    )
    assert got["log"] == ["hello", "begin 1", "end 1", "started"]
    assert int(str(got["startMs"])) < 1000  # not the whole wait


def test_a_stream_that_fails_before_its_hello_is_not_waited_for(tmp_path: Path) -> None:
    got = _reads(
        tmp_path,
        """
        const started = live.start();
        await settle();
        note("closed"); sockets.at(-1).onclose({ code: 1006 }); await settle();
        await finish();
        await started;
        note("started");
        """,
        wait_ms=5000,
    )
    assert got["log"] == ["closed", "begin 1", "end 1", "started"]
    assert int(str(got["startMs"])) < 1000


def test_a_held_stream_holds_the_first_read_a_moment_at_most_and_its_late_hello_reads_again(
    tmp_path: Path,
) -> None:
    # The stream is held without an answer (a proxy holding the upgrade): start() reads after the wait and
    # resolves when that read ends (it waited 5 s for the hello once, and read nothing itself).
    got = _reads(
        tmp_path,
        """
        const started = live.start();
        await new Promise((resolve) => setTimeout(resolve, 100));
        note("waiting");
        await new Promise((resolve) => setTimeout(resolve, 400));
        await finish();
        await started;
        note("started");
        note("hello"); send(hello); await settle();
        await finish();
        """,
        wait_ms=300,
    )
    assert got["log"] == ["waiting", "begin 1", "end 1", "started", "hello", "begin 2", "end 2"]
    assert int(str(got["startMs"])) < 1000


def test_a_hello_during_the_first_read_reads_again_after_it_not_beside_it(tmp_path: Path) -> None:
    got = _reads(
        tmp_path,
        """
        const started = live.start();
        await settle();
        note("hello"); send(hello); await settle();
        await finish();
        await started;
        await finish();
        """,
    )
    assert got["log"] == ["begin 1", "hello", "end 1", "begin 2", "end 2"]


def test_a_read_after_the_hello_is_not_repeated_and_a_reconnect_reads_again_once(tmp_path: Path) -> None:
    got = _reads(
        tmp_path,
        """
        live.connect(); await settle();
        note("hello"); send(hello);
        const read = live.read(); await settle(); await finish(); await read;
        note("reconnect"); sockets.at(-1).readyState = 3; live.kick(); await settle();
        send({ ...hello, resumed_from: 10 }); await settle();
        note("reload twice"); live.reload(); live.reload(); await settle();
        await finish();
        await finish();
        """,
    )
    assert got["log"] == [
        "hello", "begin 1", "end 1", "reconnect", "begin 2", "reload twice", "end 2", "begin 3", "end 3"
    ]  # fmt: skip


def test_a_read_keeps_the_record_an_event_brought_with_a_newer_revision(tmp_path: Path) -> None:
    # A reread's answer may be older than an event that came while it was on its way: the event's stays.
    got = run_module_script(
        tmp_path,
        STUBS
        + """
        const { newest } = await import("./api.mjs");
        const known = new Map([
          ["a", { id: "a", revision: 4, status: "omitted" }],
          ["b", { id: "b", revision: 2, status: "draft", shown: true }],
        ]);
        const read = [
          { id: "a", revision: 3, status: "ready" },
          { id: "b", revision: 2, status: "draft" },
          { id: "c", revision: 1, status: "draft" },
        ];
        console.log(JSON.stringify(newest(read, (id) => known.get(id))));
        """,
        {"api.js": "api.mjs"},
    )
    assert got == [
        {"id": "a", "revision": 4, "status": "omitted"},  # the event's, newer than the read
        {"id": "b", "revision": 2, "status": "draft"},  # the same revision: the read's
        {"id": "c", "revision": 1, "status": "draft"},
    ]


def test_a_read_keeps_a_record_an_event_brought_while_it_was_on_its_way(tmp_path: Path) -> None:
    got = run_module_script(
        tmp_path,
        STUBS
        + """
        const { arrived, merged } = await import("./api.mjs");
        const old = { id: "old", revision: 1 };  // shown before the read, and gone from the server since
        const before = arrived({ id: "before", revision: 1 });  // brought by an event before the read began
        const since = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 2));
        const during = arrived({ id: "during", revision: 1 });  // brought while the read was on its way
        const changed = arrived({ id: "a", revision: 5 });
        const local = [during, changed, before, old];
        const known = new Map(local.map((r) => [r.id, r]));
        const read = [{ id: "a", revision: 4 }, { id: "b", revision: 1 }];
        const left = merged(read, (id) => known.get(id), local, since);
        console.log(JSON.stringify(left.map((r) => [r.id, r.revision])));
        """,
        {"api.js": "api.mjs"},
    )
    # The job queued while the read was on its way stays (first: the newest); the newer revision stays; what
    # the page had before the read and the read lacks is gone.
    assert got == [["during", 1], ["a", 5], ["b", 1]]


RETRIES = """
// The page's reads fail or succeed as the test says (`outcomes`); its retries run when the test says (`due`).
globalThis.location.assign = (url) => visits.push(url);
globalThis.location.pathname = "/farm";
globalThis.location.search = "";
const { ApiError } = await import("./api.mjs");
Math.random = () => 0.5; // no jitter: the waits are the back-off itself
const visits = [];
const outcomes = OUTCOMES;
const log = [];
const load = async () => {
  const outcome = outcomes.shift() ?? "ok";
  log.push(outcome);
  if (outcome === 500) throw new ApiError(500, { detail: "down" });
  if (outcome === 401) throw new ApiError(401, { detail: "expired" });
  if (outcome === "network") throw new TypeError("Failed to fetch");
};
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const live = new LiveEvents({ onEvent: () => {}, load });
live.helloWaitMs = 0; // the first read at once (its wait for the hello: the tests above)
const waits = [];
let pending = null;
live.later = (work, ms) => { waits.push(Math.round(ms)); pending = work; return waits.length; };
const due = async () => { const work = pending; pending = null; work(); await settle(); await settle(); };
SCENARIO
const stale = live.stale;
live.stop();
console.log(JSON.stringify({ log, waits, visits, stale, pending: Boolean(pending) }));
"""


def _retries(tmp_path: Path, outcomes: list[object], scenario: str) -> dict[str, object]:
    script = STUBS + RETRIES.replace("OUTCOMES", json.dumps(outcomes)).replace("SCENARIO", scenario)
    return run_module_script(tmp_path, script, {"api.js": "api.mjs"})


def test_a_failed_reread_is_retried_with_back_off_until_it_succeeds(tmp_path: Path) -> None:
    # The reread after a hello failed and the page said nothing: it showed data that may miss changes until
    # the next reconnect. Now it is read again after 1 s, 2 s, 4 s … (30 s at most) until a read succeeds.
    got = _retries(
        tmp_path,
        ["ok", 500, "network", 500, 500, 500, 500, 500, "ok", 500],
        """
        await live.start();
        send(hello); await settle(); await settle();  // the late hello's reread fails
        for (let i = 0; i < 7; i += 1) await due();
        const staleBefore = live.stale;
        live.reload(); await settle(); await settle();  // fails again: the back-off starts over
        log.push(`stale before ${staleBefore}`);
        """,
    )
    assert got["log"] == ["ok", 500, "network", 500, 500, 500, 500, 500, "ok", 500, "stale before false"]
    assert got["waits"] == [1000, 2000, 4000, 8000, 16000, 30000, 30000, 1000]
    assert got["stale"] is True and got["visits"] == []


def test_a_failed_first_read_holds_start_until_a_retry_succeeds(tmp_path: Path) -> None:
    # start() once rejected with the first read's error: the page stopped there with nothing to show.
    got = _retries(
        tmp_path,
        [500, 500, "ok"],
        """
        let started = false;
        live.start().then(() => { started = true; });
        await settle(); await settle();
        await due();
        log.push(`started ${started}`);
        await due();
        log.push(`started ${started}`);
        """,
    )
    assert got["log"] == [500, 500, "started false", "ok", "started true"]
    assert got["waits"] == [1000, 2000]
    assert got["stale"] is False


def test_coming_back_online_retries_at_once_and_a_stopped_page_retries_no_more(tmp_path: Path) -> None:
    got = _retries(
        tmp_path,
        ["ok", 500, 500, 500],
        """
        await live.start();
        live.reload(); await settle(); await settle();   // fails: a retry waits 1 s
        live.reload(); await settle(); await settle();   // fails: the retry waits 2 s
        live.kick(); await settle(); await settle();     // back online: at once, and the back-off starts over
        live.stop();
        log.push(`retry waiting after stop: ${Boolean(live.retryTimer)}`);
        await due();                                     // the timer stop() cleared, had it fired
        """,
    )
    assert got["log"] == ["ok", 500, 500, 500, "retry waiting after stop: false"]
    assert got["waits"] == [1000, 2000, 1000]
    # The page stopped the stream: the retry scheduled before does nothing (and reads nothing).
    assert got["stale"] is False


def test_a_refused_login_goes_to_the_login_page_not_to_endless_retries(tmp_path: Path) -> None:
    got = _retries(
        tmp_path,
        ["ok", 401],
        """
        await live.start();
        live.reload(); await settle(); await settle();
        """,
    )
    assert got["log"] == ["ok", 401]
    assert got["waits"] == [] and got["pending"] is False
    assert got["visits"] == ["/login?next=%2Ffarm"]


SHARED = """
// The top bar's notice and live badge, as plain objects; every read's retries run when the test says (`due`).
const banner = { hidden: true, text: { textContent: "" }, button: { onclick: null } };
banner.querySelector = (selector) => (selector === ".stale-text" ? banner.text : banner.button);
const badge = { dataset: {}, textContent: "" };
const elements = { stale: banner, "live-state": badge };
const getElement = document.getElementById;
document.getElementById = (id) => elements[id] ?? getElement(id);
globalThis.location.assign = () => {};
const { DataReads, readRetried } = await import("./api.mjs");
Math.random = () => 0.5;
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const waits = [];
let pending = [];
DataReads.prototype.later = (work, ms) => {
  waits.push(Math.round(ms));
  pending.push(work);
  return waits.length;
};
const due = async () => {
  const work = pending;
  pending = [];
  work.forEach((w) => w());
  await settle();
  await settle();
};
const failing = (outcomes, log) => async () => {
  const outcome = outcomes.shift() ?? "ok";
  log.push(outcome);
  if (outcome === 500) throw new Error("HTTP 500");
};
const shown = () => ({ banner: banner.hidden ? null : banner.text.textContent, badge: badge.textContent,
  state: badge.dataset.state, stale: badge.dataset.stale });
const seen = [];
SCENARIO
console.log(JSON.stringify({ seen, waits }));
"""


def _shared(tmp_path: Path, scenario: str) -> dict[str, object]:
    script = STUBS + SHARED.replace("SCENARIO", scenario)
    return run_module_script(tmp_path, script, {"api.js": "api.mjs"})


def test_read_retried_reads_data_no_stream_keeps_until_a_read_succeeds(tmp_path: Path) -> None:
    # A page's projects were read once: a failure ended the page's start, with nothing said and no retry.
    got = _shared(
        tmp_path,
        """
        const log = [];
        let done = false;
        readRetried(failing([500, 500, "ok"], log)).then(() => { done = true; });
        await settle(); await settle();
        seen.push([...log], done, shown());
        await due();
        seen.push([...log], done);
        await due();
        seen.push([...log], done, shown());
        """,
    )
    assert got["seen"] == [
        [500],
        False,
        {"banner": "stale_never", "badge": "live_off", "state": "off", "stale": "true"},
        [500, 500],
        False,
        [500, 500, "ok"],
        True,
        {"banner": None, "badge": "live_off", "state": "off", "stale": "false"},
    ]
    assert got["waits"] == [1000, 2000]


def test_the_notice_and_the_badge_stay_while_any_read_is_out_of_date(tmp_path: Path) -> None:
    # Two reads of the page's data (the stream's and the projects'): the notice goes only when both are up
    # to date, and a live stream over old data says so on its badge, not a plain "Live".
    got = _shared(
        tmp_path,
        """
        const log = [];
        const live = new LiveEvents({ onEvent: () => {}, load: failing(["ok", "ok", 500, "ok", 500], log) });
        await live.start();
        send(hello); await settle(); await settle();             // the reread after the late hello
        seen.push(shown());
        readRetried(failing([500, "ok"], log));
        await settle(); await settle();
        live.reload(); await settle(); await settle();           // the stream's reread fails too
        seen.push(shown());
        let upToDate = null;
        live.untilRead().then((value) => { upToDate = value; });
        await due();                                             // both retries succeed, one after the other
        seen.push(shown(), upToDate, log);
        live.reload(); await settle(); await settle();           // fails: the page then moves on
        const stopped = live.untilRead();
        live.stop();
        seen.push(await stopped, shown());
        """,
    )
    on = {"banner": None, "badge": "live_on", "state": "on", "stale": "false"}
    assert got["seen"] == [
        on,
        {"banner": "stale_never", "badge": "live_stale", "state": "on", "stale": "true"},
        on,
        True,
        ["ok", "ok", 500, 500, "ok", "ok", 500],
        False,
        on,
    ]
