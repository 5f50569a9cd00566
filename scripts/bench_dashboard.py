"""Benchmark: the farm dashboard (/farm) in headless Chromium against a big farm.

Seeds a SQLite database with AGENTS agents (two GPUs each, with readings) and JOBS queued jobs no agent can
take, lets RUNNING agents claim one job each, starts a real `aipipe server`, and measures in the browser:
  paint    first contentful paint and the time until the dashboard shows its data (agents, queue, charts):
           PAGE_LOADS fresh loads (logged in), median and worst.
  events   EVENTS priority changes to jobs on screen, one at a time: from the moment the browser sends the
           change to the frame after the row shows it (write + event + WebSocket + render), and from the
           event's arrival on the WebSocket to that frame (the page's own part): p50 / p99 in ms.
  idle     the server's CPU time over IDLE_S seconds with no dashboard, then with DASHBOARDS dashboards
           open and nothing happening: CPU per connected dashboard (ms of CPU per second).
Usage:
    .venv/bin/python scripts/bench_dashboard.py [--agents 200] [--jobs 5000] [--running 20] [--events 100]
        [--page-loads 5] [--dashboards 5] [--idle-s 30]
Needs /usr/bin/chromium (apt-get install -y chromium) and the dev extra (playwright).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from scripts.bench_api import pct  # noqa: E402
from scripts.bench_farm_api import cpu_seconds, machine  # noqa: E402
from sync_server.cli import system_uow  # noqa: E402
from sync_server.db.migrate import upgrade  # noqa: E402
from sync_server.farm import agents, jobs  # noqa: E402
from sync_server.farm.schemas import AgentRegister, JobSubmit  # noqa: E402
from sync_server.settings import Settings  # noqa: E402
from tests.support.server import ServerProcess, start_with_admin  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ADMIN = "bench_admin"
JOB = {
    "type": "i2v",
    "workflow": "cpu_test_still_video",
    "params": {"image": "first_frame.png", "width": 64, "height": 64, "length": 4, "fps": 8},
}
HOLD_TAG = "bench-hold"  # no agent has it: these jobs stay queued


def gpus(n: int) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "name": "NVIDIA GeForce RTX 4090",
            "uuid": f"GPU-{n}-{i}",
            "vram_total_mb": 24564,
            "vram_free_mb": 4564,
            "vram_used_mb": 20000,
            "utilization_pct": 90 + i,
            "temperature_c": 70 + i,
        }
        for i in range(2)
    ]


def seed(data_dir: Path, agent_count: int, job_count: int, running: int) -> None:
    """Agents with GPU readings and queued jobs, written through the services (fast, no HTTP)."""
    settings = Settings(data_dir=data_dir)
    settings.ensure_dirs()
    upgrade(settings.resolved_database_url)
    with system_uow(settings) as uow:
        for n in range(agent_count):
            agents.register(
                uow,
                settings,
                AgentRegister(
                    name=f"gpu-{n:03d}",
                    host=f"gpu-{n:03d}.studio.lan",
                    gpus=gpus(n),
                    tags=["wan", "studio-a"],
                ),
            )
    with system_uow(settings) as uow:
        for n in range(job_count):
            jobs.submit(uow, settings, JobSubmit(**JOB, priority=n % 100, tags=[HOLD_TAG]))
        for _ in range(running):
            jobs.submit(uow, settings, JobSubmit(**JOB, priority=99))


def start(data_dir: Path) -> tuple[ServerProcess, str]:
    env = {"AIPIPE_FARM_AGENT_OFFLINE_S": "3600", "AIPIPE_FARM_LEASE_S": "3600"}
    return start_with_admin(data_dir, None, ADMIN, env)


def admin_client(server: ServerProcess, password: str) -> tuple[httpx.Client, dict[str, Any]]:
    client = httpx.Client(base_url=server.url, timeout=60)
    pair = client.post("/api/auth/login", json={"username": ADMIN, "password": password}).json()
    client.headers["Authorization"] = f"Bearer {pair['access_token']}"
    return client, pair


def lease_some(client: httpx.Client, running: int) -> None:
    """`running` agents claim a job each (so the dashboard shows current jobs), and every agent heartbeats."""
    listed = client.get("/api/farm/agents").json()
    for agent in listed:
        client.post(f"/api/farm/agents/{agent['id']}/heartbeat", json={"state": "idle", "gpus": gpus(0)})
    for agent in listed[:running]:
        claimed = client.post(f"/api/farm/agents/{agent['id']}/claim", json={"wait_s": 0})
        if claimed.status_code == 200:
            body = claimed.json()
            client.post(
                f"/api/farm/jobs/{body['job']['id']}/heartbeat",
                json={"lease_id": body["lease"]["id"], "progress": 0.3, "stage": "KSampler 9/30"},
            )


def logged_in_page(browser: Browser, base_url: str, pair: dict[str, Any]) -> Page:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    session = {
        "access_token": pair["access_token"],
        "refresh_token": pair["refresh_token"],
        "access_expires_at": int(time.time() * 1000) + pair["expires_in"] * 1000,
        "user": pair["user"],
    }
    context.add_init_script(f"localStorage.setItem('aipipe.session', {json.dumps(json.dumps(session))});")
    return context.new_page()


def measure_paint(browser: Browser, base_url: str, pair: dict[str, Any], loads: int) -> dict[str, Any]:
    fcp: list[float] = []
    ready: list[float] = []
    calls: dict[str, list[float]] = {}  # API path → durations the browser saw
    for _ in range(loads):
        page = logged_in_page(browser, base_url, pair)
        page.goto(f"{base_url}/farm")
        page.wait_for_selector("#farm[data-ready=true]", timeout=60_000)
        times = page.evaluate(
            """() => ({
                fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
                ready: performance.getEntriesByName('aipipe-farm-ready')[0]?.startTime,
                api: performance.getEntriesByType('resource')
                    .filter((e) => e.name.includes('/api/'))
                    .map((e) => [new URL(e.name).pathname, e.duration]),
            })"""
        )
        for path, duration in times["api"]:
            calls.setdefault(path, []).append(duration)
        fcp.append(times["fcp"])
        ready.append(times["ready"])
        page.context.close()
    return {
        "first_contentful_paint_ms": {"median": statistics.median(fcp), "max": max(fcp)},
        "data_on_screen_ms": {"median": statistics.median(ready), "max": max(ready)},
        "agent_cards": None,
        "api_calls_median_ms": {
            path: round(statistics.median(durations)) for path, durations in sorted(calls.items())
        },
    }


EVENT_LOOP_JS = """
async ([count]) => {
  const script = document.querySelector('script[type=module]').src;
  const { accessToken } = await import(script.replace(/[^/]+$/, 'api.js'));
  const socket = window.aipipeFarm.live.socket;
  const arrived = new Map();
  socket.addEventListener('message', (raw) => {
    const message = JSON.parse(raw.data);
    if (message.type === 'event' && message.entity === 'job') {
      arrived.set(message.entity_id, performance.now());
    }
  });
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())));
  const rows = document.querySelectorAll('#queue-rows tr[data-status=queued]');
  const ids = [...rows].map((r) => r.dataset.jobId);
  const total = [], page = [], http = [];
  for (let i = 0; i < count; i++) {
    const id = ids[i % ids.length];
    const current = Number(document.querySelector(`tr[data-job-id="${id}"] input.prio`).value);
    const wanted = current >= 99 ? current - 1 : current + 1;
    const token = await accessToken();
    const t0 = performance.now();
    let answered = null;
    fetch(`/api/farm/jobs/${id}/priority`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ priority: wanted }),
    }).then(() => { answered = performance.now(); });
    await new Promise((resolve) => {
      const check = () => {
        const input = document.querySelector(`tr[data-job-id="${id}"] input.prio`);
        if (input && Number(input.value) === wanted) { observer.disconnect(); resolve(); return true; }
        return false;
      };
      const observer = new MutationObserver(check);
      observer.observe(document.getElementById('queue-rows'), { childList: true, subtree: true });
      check();
    });
    const shown = await frame();
    total.push(shown - t0);
    if (answered !== null) http.push(answered - t0);
    page.push(shown - (arrived.get(id) ?? shown));
  }
  return { total, page, http, rows: ids.length };
}
"""


def measure_events(browser: Browser, base_url: str, pair: dict[str, Any], count: int) -> dict[str, Any]:
    page = logged_in_page(browser, base_url, pair)
    page.goto(f"{base_url}/farm")
    page.wait_for_selector("#farm[data-ready=true]", timeout=60_000)
    cards = page.locator(".agent").count()
    result = page.evaluate(EVENT_LOOP_JS, [count])
    page.context.close()
    return {
        "changes": count,
        "agent_cards": cards,
        "queue_rows": result["rows"],
        "send_to_screen_ms": {"p50": pct(result["total"], 50), "p99": pct(result["total"], 99)},
        "websocket_to_screen_ms": {"p50": pct(result["page"], 50), "p99": pct(result["page"], 99)},
        # The write's own HTTP answer (when it came before the row changed): the server's share.
        "http_answer_ms": {"p50": pct(result["http"], 50), "p99": pct(result["http"], 99)}
        if result["http"]
        else None,
    }


def measure_idle(
    browser: Browser, server: ServerProcess, pair: dict[str, Any], dashboards: int, idle_s: float
):
    assert server.process is not None
    pid = server.process.pid
    time.sleep(2)
    before = cpu_seconds(pid)
    time.sleep(idle_s)
    alone = cpu_seconds(pid) - before
    pages = [logged_in_page(browser, server.url, pair) for _ in range(dashboards)]
    for page in pages:
        page.goto(f"{server.url}/farm")
        page.wait_for_selector("#farm[data-ready=true]", timeout=60_000)
    time.sleep(2)  # let the loads' requests finish
    before = cpu_seconds(pid)
    time.sleep(idle_s)
    with_pages = cpu_seconds(pid) - before
    for page in pages:
        page.context.close()
    per_dashboard = max(0.0, with_pages - alone) / dashboards / idle_s
    return {
        "dashboards": dashboards,
        "seconds": idle_s,
        "server_cpu_s_without": round(alone, 3),
        "server_cpu_s_with": round(with_pages, 3),
        "cpu_ms_per_s_per_dashboard": round(per_dashboard * 1000, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--running", type=int, default=20)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--page-loads", type=int, default=5)
    parser.add_argument("--dashboards", type=int, default=5)
    parser.add_argument("--idle-s", type=float, default=30.0)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.stderr.write(f"{CHROMIUM} is missing: apt-get install -y chromium\n")
        return 2
    with tempfile.TemporaryDirectory(prefix="aipipe-bench-dashboard-") as tmp:
        data_dir = Path(tmp)
        began = time.monotonic()
        seed(data_dir, args.agents, args.jobs, args.running)
        seeded = time.monotonic() - began
        server, password = start(data_dir)
        try:
            client, pair = admin_client(server, password)
            lease_some(client, args.running)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                try:
                    paint = measure_paint(browser, server.url, pair, args.page_loads)
                    events = measure_events(browser, server.url, pair, args.events)
                    paint["agent_cards"] = events.pop("agent_cards")
                    idle = measure_idle(browser, server, pair, args.dashboards, args.idle_s)
                finally:
                    browser.close()
        finally:
            server.stop()
    report = {
        "machine": machine(),
        "load_average": os.getloadavg(),
        "farm": {"agents": args.agents, "queued_jobs": args.jobs, "running_jobs": args.running},
        "seed_s": round(seeded, 1),
        "paint": paint,
        "events": events,
        "idle": idle,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
