"""Benchmark (issue 18 §1): the server keeps answering health checks and agent heartbeats while a 20,000-row
shot-list apply, a 600-shot LLM breakdown and an editorial proxy render run at once.

Per backend (SQLite, and PostgreSQL when --pg-url answers), a real `aipipe server` (its own process) on
loopback, and the LLM stand-in (tests/llm_standin: the OpenAI-compatible protocol) in a process of its own.
Set up first (not measured): a project of --shots shots seeded straight into the database and an xlsx that
edits every one (description and duration); a project of --proxy-shots shots, each with a published render
movie; an empty project for the breakdown. Then the idle probes, then at once:
  apply      POST /shotlist/apply of the xlsx (upload, read, validate, diff, plan, write, answer);
  breakdown  POST /breakdowns (the stand-in answers --breakdown-shots shots in one reply) and applying the
             draft (making the scenes, characters and shots);
  proxy      POST /editorial/proxies and polling it until it is done (ffmpeg encodes and joins);
while probes send `GET /api/health` and an agent's `POST /api/farm/agents/{id}/heartbeat` one after the other
(10 ms apart) until all three are done. The probes run in a process of their own: in the tasks' process their
timings would include that client's own work (reading the apply's and the draft's answers holds its event
loop). Prints each task's wall time, the probes' p50 / p99 / max with their
counts, CPU seconds of the server process and of its child processes, the apply's own split from the server
log (planning CPU in the import process; write phase: lock wait, lock held, CPU), the breakdown draft apply's
(plan in a read session; lock wait, lock held, CPU), the load average, and how many heartbeats the server
answered while another transaction held the database and wrote a moment later (`farm heartbeats written
late` in its log; docs/agent-protocol.md). The server runs with its production niceness for heavy work
(`AIPIPE_BACKGROUND_NICE`, 10 unless set: test servers run theirs un-niced).

Targets: health and heartbeat p99 < 50 ms during all of it; the apply of 20,000 rows < 30 s. Usage:
    .venv/bin/python scripts/bench_server_under_load.py [--shots 20000] [--pg-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_api import pct  # noqa: E402
from scripts.bench_shotlist_apply import (  # noqa: E402
    Probes,
    database,
    edits_of,
    probe_until,
    seed,
    tokens,
)
from tests.support.media import h264_mp4  # noqa: E402
from tests.support.processes import log_records  # noqa: E402
from tests.support.server import ServerProcess, start_with_admin  # noqa: E402

IDLE_PROBES = 200
BACKGROUND_NICE = os.environ.get("AIPIPE_BACKGROUND_NICE", "10")  # the server's default
TASK_TIMEOUT_S = 900.0
PROSE = "The rain has not stopped for three days. Rina runs down the alley, Minsu close behind.\n" * 20
TICKS = os.sysconf("SC_CLK_TCK")


# -- the LLM stand-in, in a process of its own (its event loop must not share the probes' GIL) -------------


def breakdown_reply(shots: int, per_scene: int = 20) -> dict[str, Any]:
    """One LLM answer with `shots` shots in scenes of `per_scene`, as the breakdown schema wants it."""
    scenes = (shots + per_scene - 1) // per_scene
    return {
        "characters": [
            {"name": "리나", "aliases": ["Rina"], "description": "", "clothing": ["red coat"], "role": ""},
            {"name": "Minsu", "aliases": [], "description": "", "clothing": [], "role": ""},
        ],
        "environments": [
            {"id": "ENV-001", "location": "alley", "time_of_day": "night", "weather": "rain", "mood": "tense"}
        ],
        "scenes": [
            {"number": n, "name": f"Scene {n}", "description": "The chase.", "environment_ref": "ENV-001"}
            for n in range(1, scenes + 1)
        ],
        "shots": [
            {
                "scene": i // per_scene + 1,
                "shot_number": i % per_scene + 1,
                "description": f"Shot {i}: Rina runs through the rain.",
                "action": "Rina runs, Minsu follows",
                "dialogue": "리나: 빨리!" if i % 3 == 0 else "",
                "characters": [{"name": "리나", "clothing": "red coat"}, {"name": "Minsu", "clothing": ""}],
                "suggested_camera": "tracking walk and talk",
                "suggested_duration": 2.5,
                "environment_ref": "ENV-001",
            }
            for i in range(shots)
        ],
    }


def run_standin(reply_path: str) -> None:
    """(In the stand-in's process.) Serve the reply in `reply_path` to every request until stdin closes."""
    from tests.llm_standin.server import Reply, running_llm

    content = Path(reply_path).read_text(encoding="utf-8")
    with running_llm() as llm:
        llm.llm.script(*[Reply(content)] * 1000)
        print(json.dumps({"base_url": llm.base_url, "model": llm.llm.model}), flush=True)
        sys.stdin.read()


@contextmanager
def standin(folder: Path, shots: int) -> Iterator[dict[str, str]]:
    reply = folder / "breakdown-reply.json"
    reply.write_text(json.dumps(breakdown_reply(shots), ensure_ascii=False), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, __file__, "--standin", str(reply)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


# -- CPU time of the server and its children (Linux /proc) ------------------------------------------------


@dataclass
class Cpu:
    server: float  # seconds of CPU, the server process itself (all its threads)
    children: float  # its child processes: those it waited for (ffmpeg) and those still running (imports)


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_of(pid: int) -> Cpu:
    fields = _stat(pid)
    own = (int(fields[11]) + int(fields[12])) / TICKS
    waited = (int(fields[13]) + int(fields[14])) / TICKS
    live = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = _stat(int(entry.name))
        except (OSError, ValueError):
            continue
        if int(child[1]) == pid:
            live += (int(child[11]) + int(child[12]) + int(child[13]) + int(child[14])) / TICKS
    return Cpu(own, waited + live)


# -- set-up (not measured) ---------------------------------------------------------------------------------


def publish_movie(client: httpx.Client, shot_id: str, movie: bytes) -> None:
    files = [("files", ("render.mp4", movie, "application/octet-stream"))]
    response = client.post(f"/api/shots/{shot_id}/versions", data={"stage": "render"}, files=files)
    response.raise_for_status()


def proxy_project(client: httpx.Client, folder: Path, shots: int, tag: str) -> str:
    project = client.post(
        "/api/projects", json={"code": f"PRX{tag}", "name": "proxy", "width": 640, "height": 360}
    )
    project.raise_for_status()
    pid = project.json()["id"]
    scene = client.post(f"/api/projects/{pid}/scenes", json={})
    scene.raise_for_status()
    movie = h264_mp4(folder / "render.mp4", seconds=4, size="640x360", rate="24").read_bytes()
    for _ in range(shots):
        made = client.post(
            f"/api/projects/{pid}/shots", json={"scene_id": scene.json()["id"], "duration_frames": 96}
        )
        made.raise_for_status()
        publish_movie(client, made.json()["id"], movie)
    return str(pid)


# -- the three tasks --------------------------------------------------------------------------------------


@dataclass
class Timed:
    seconds: float = 0.0
    detail: str = ""
    phases: dict[str, float] = field(default_factory=dict)
    ended: float = field(default_factory=time.perf_counter)


async def apply_task(client: httpx.AsyncClient, project_id: str, content: bytes) -> Timed:
    started = time.perf_counter()
    response = await client.post(
        f"/api/projects/{project_id}/shotlist/apply", files={"file": ("bench.xlsx", content)}
    )
    response.raise_for_status()
    applied = response.json()["applied"]
    return Timed(
        time.perf_counter() - started,
        f"{len(applied['updated']):,} updated, {len(applied['created']):,} created",
    )


async def breakdown_task(client: httpx.AsyncClient, project_id: str) -> Timed:
    started = time.perf_counter()
    made = await client.post(f"/api/projects/{project_id}/breakdowns", json={"text": PROSE})
    made.raise_for_status()
    llm = time.perf_counter() - started
    draft = made.json()
    applied = await client.post(f"/api/breakdowns/{draft['id']}/apply", json={"revision": draft["revision"]})
    applied.raise_for_status()
    shots = (await client.get(f"/api/projects/{project_id}/shots", params={"limit": 1})).json()["total"]
    seconds = time.perf_counter() - started
    return Timed(seconds, f"{shots} shots made", {"llm + draft": llm, "apply draft": seconds - llm})


async def proxy_task(client: httpx.AsyncClient, project_id: str) -> Timed:
    started = time.perf_counter()
    made = await client.post(f"/api/projects/{project_id}/editorial/proxies")
    made.raise_for_status()
    proxy = made.json()
    while proxy["status"] not in ("succeeded", "failed"):
        await asyncio.sleep(0.25)
        polled = await client.get(f"/api/editorial/proxies/{proxy['id']}")
        polled.raise_for_status()
        proxy = polled.json()
    if proxy["status"] != "succeeded":
        raise RuntimeError(f"proxy render failed: {proxy.get('error')}")
    return Timed(time.perf_counter() - started, f"{proxy['encoded']} shots encoded, {proxy['frames']} frames")


@dataclass
class Run:
    """One measured run: some of the tasks at once, with probes; CPU of the server and its children."""

    tasks: dict[str, Timed]
    seconds: float
    began: float
    probes: Probes = field(default_factory=Probes)
    server_cpu: float = 0.0
    children_cpu: float = 0.0
    load: str = ""


# -- the probes, in a process of their own (the tasks' client work must not delay their timings) ----------


def run_probes(spec: str) -> None:
    """(In the probe process.) Probe until stdin closes (or `count` rounds); print the timings as JSON."""
    found = json.loads(spec)

    async def probing() -> Probes:
        done = asyncio.Event() if not found["count"] else None
        if done is not None:
            loop = asyncio.get_running_loop()

            def stopped() -> None:  # stdin closed: it reads as ready
                loop.remove_reader(sys.stdin.fileno())
                done.set()

            loop.add_reader(sys.stdin.fileno(), stopped)
        return await probe_until(found["base"], found["agent_key"], found["agent_id"], done, found["count"])

    print("probing", flush=True)
    print(json.dumps(asdict(asyncio.run(probing()))), flush=True)


class ProbeProcess:
    """The probe process: started (and probing) on entry, stopped and read on `stop`."""

    def __init__(self, base: str, agent_key: str, agent_id: str, count: int = 0) -> None:
        spec = json.dumps({"base": base, "agent_key": agent_key, "agent_id": agent_id, "count": count})
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--probe", spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "probing":
            raise RuntimeError("the probe process did not start")

    def stop(self) -> Probes:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        found = json.loads(self.process.stdout.readline())
        self.process.wait(timeout=60)
        return Probes(**found)


async def at_once(base: str, admin: str, ids: dict[str, str], content: bytes) -> Run:
    """The tasks named in `ids` (apply, breakdown, proxy: their project ids) at once."""
    async with httpx.AsyncClient(
        base_url=base, timeout=TASK_TIMEOUT_S, headers={"Authorization": admin}
    ) as client:
        work = {
            "apply": lambda: apply_task(client, ids["apply"], content),
            "breakdown": lambda: breakdown_task(client, ids["breakdown"]),
            "proxy": lambda: proxy_task(client, ids["proxy"]),
        }
        names = [name for name in work if name in ids]
        started = time.perf_counter()
        results = await asyncio.gather(*(work[name]() for name in names))
        seconds = time.perf_counter() - started
    return Run(dict(zip(names, results, strict=True)), seconds, started)


def measured(
    server: ServerProcess, tokens_: tuple[str, str, str], ids: dict[str, str], content: bytes
) -> Run:
    assert server.process is not None
    admin, agent_key, agent_id = tokens_
    before = cpu_of(server.process.pid)
    probes = ProbeProcess(server.url, agent_key, agent_id)
    try:
        found = asyncio.run(at_once(server.url, admin, ids, content))
    finally:
        found_probes = probes.stop()
    after = cpu_of(server.process.pid)
    found.probes = found_probes
    found.server_cpu, found.children_cpu = after.server - before.server, after.children - before.children
    found.load = uptime().split("load average:")[-1].strip()
    return found


def projects(
    client: httpx.Client, server: ServerProcess, url: str | None, folder: Path, args: Any, tag: str
) -> tuple[dict[str, str], bytes]:
    """A seeded project and its edit, an empty project for the breakdown, a project for the proxy."""
    seeded = seed(server.data_dir, url, args.shots)
    empty = client.post("/api/projects", json={"code": f"BRK{tag}", "name": "breakdown"})
    empty.raise_for_status()
    ids = {
        "apply": seeded.project_id,
        "breakdown": empty.json()["id"],
        "proxy": proxy_project(client, folder, args.proxy_shots, tag),
    }
    return ids, edits_of(seeded)


# -- report -----------------------------------------------------------------------------------------------


def probe_line(label: str, values: list[float]) -> str:
    if not values:
        return f"    {label:26} no samples"
    return (
        f"    {label:26} n={len(values):5d}  p50 {pct(values, 50):7.1f} ms  p99 {pct(values, 99):7.1f} ms  "
        f"max {max(values):8.1f} ms"
    )


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def run(label: str, pg_url: str | None, args: argparse.Namespace) -> None:
    """Each task alone (with probes), then all three at once, on one server and database."""
    with (
        database(pg_url) as url,
        tempfile.TemporaryDirectory(prefix="bench-under-load-") as folder_name,
    ):
        folder = Path(folder_name)
        with standin(folder, args.breakdown_shots) as llm:
            env = {
                "AIPIPE_LOG_LEVEL": "INFO",
                "AIPIPE_LLM_BASE_URL": llm["base_url"],
                "AIPIPE_LLM_MODEL": llm["model"],
                "AIPIPE_LLM_CHUNK_CHARS": "100000",
                "AIPIPE_LLM_TIMEOUT_S": "300",
                "AIPIPE_BACKGROUND_NICE": BACKGROUND_NICE,
            }
            server, password = start_with_admin(folder / "server", url, "bench", env)
            server.password = password  # type: ignore[attr-defined]
            try:
                made = tokens(server)
                headers = {"Authorization": made[0]}
                with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
                    solo_ids, solo_content = projects(client, server, url, folder, args, "SOLO")
                    all_ids, all_content = projects(client, server, url, folder, args, "ALL")
                    # The import processes start on first use: one small preview first, so that the
                    # measured applies do not include starting them (the first import after a start does).
                    warm = client.post(
                        f"/api/projects/{solo_ids['breakdown']}/shotlist/import",
                        files={"file": ("warm.csv", b"Scene,Shot\n")},
                    )
                    warm.raise_for_status()
                idle = ProbeProcess(server.url, made[1], made[2], IDLE_PROBES).stop()
                runs = {}
                for name in ("apply", "breakdown", "proxy"):
                    runs[f"{name} alone"] = measured(server, made, {name: solo_ids[name]}, solo_content)
                runs["all three at once"] = measured(server, made, all_ids, all_content)
                planned = [r for r in log_records(server.log(), "shot list import planned") if r["apply"]]
                written = log_records(server.log(), "shot list import written")
                drafts = log_records(server.log(), "breakdown draft applied")
                late = sum(r["heartbeats"] for r in log_records(server.log(), "farm heartbeats written late"))
            finally:
                server.stop()
    report(label, idle, runs, planned, written, drafts)
    print(f"   heartbeats answered while the database was busy, written by the flush (whole run): {late}")


def report(
    label: str,
    idle: Probes,
    runs: dict[str, Run],
    planned: list[dict[str, Any]],
    written: list[dict[str, Any]],
    drafts: list[dict[str, Any]],
) -> None:
    print(f"\n== {label}")
    print(probe_line("health, idle", idle.health))
    print(probe_line("heartbeat, idle", idle.heartbeat))
    for (name, found), plan, write, draft in zip(
        runs.items(),
        [planned[0], None, None, planned[1]],
        [written[0], None, None, written[1]],
        [None, drafts[0], None, drafts[1]],
        strict=True,
    ):
        print(
            f"-- {name}: {found.seconds:.1f} s wall; CPU: server process {found.server_cpu:.1f} s, "
            f"its child processes {found.children_cpu:.1f} s; load average after: {found.load}"
        )
        for task, timed in found.tasks.items():
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in timed.phases.items())
            extra = f"  ({phases})" if phases else ""
            print(f"   {task:10} {timed.seconds:7.1f} s  {timed.detail}{extra}")
        if plan is not None and write is not None:
            print(
                f"   apply in import process {plan['worker_pid']}: plan {plan['cpu_s']:.1f} s CPU; "
                f"write: lock wait {write['lock_wait_s']:.2f} s, lock held {write['write_s']:.2f} s, "
                f"{write['write_cpu_s']:.2f} s CPU, planned again: {write['replanned']}"
            )
        if draft is not None:
            d = draft
            print(
                f"   draft apply ({d['shots']} shots, a breakdown process): plan {d['plan_s']:.2f} s "
                f"({d['plan_cpu_s']:.2f} s CPU, no lock); lock wait {d['lock_wait_s']:.2f} s, lock held "
                f"{d['write_s']:.2f} s ({d['write_cpu_s']:.2f} s CPU), planned again: {d['replanned']}"
            )
        print(probe_line("health", found.probes.health))
        print(probe_line("heartbeat", found.probes.heartbeat))
        ends = ", ".join(f"{task} +{timed.ended - found.began:.1f} s" for task, timed in found.tasks.items())
        slowest = sorted(zip(found.probes.heartbeat, found.probes.heartbeat_at, strict=True), reverse=True)[
            :4
        ]
        listed = ", ".join(f"{ms:.0f} ms sent at +{at - found.began:.1f} s" for ms, at in slowest)
        print(f"   ends: {ends}; slowest heartbeats: {listed}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shots", type=int, default=20000)
    parser.add_argument("--breakdown-shots", type=int, default=600)
    parser.add_argument("--proxy-shots", type=int, default=8)
    parser.add_argument("--pg-url", default=os.environ.get("AIPIPE_BENCH_PG_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--standin", help=argparse.SUPPRESS)  # internal: run the LLM stand-in
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # internal: run the probes
    args = parser.parse_args()
    if args.standin:
        run_standin(args.standin)
        return
    if args.probe:
        run_probes(args.probe)
        return
    print(f"{os.cpu_count()} CPUs; {uptime()}; AIPIPE_BACKGROUND_NICE={BACKGROUND_NICE}")
    if args.only != "postgresql":
        run("SQLite", None, args)
    if args.pg_url and args.only != "sqlite":
        run("PostgreSQL", args.pg_url, args)


if __name__ == "__main__":
    main()
