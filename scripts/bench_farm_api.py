"""Benchmark: the farm's claim path over HTTP — long-poll wake latency, and claims per second with no job
leased twice.

Starts real `aipipe server` processes on loopback (SQLite, and PostgreSQL in a temporary database when
--pg-url answers), each test on an empty database, leases long enough that none expires (the bench's agents
never heartbeat a job), and measures:
  wake    WAITERS agents hold a claim long-poll open (wait_s 30); ROUNDS jobs are submitted one at a time,
          ROUND_GAP_S apart, each timed from the submit answer (201) to the claim answer (200) that carries
          it: p50/p99 in ms. Also a small write's round trip with and without the waiters (their cost).
  claims  JOBS jobs queued beforehand; CLAIMERS agents claim (wait_s 0) until the queue is empty: claims/s
          from the first claim sent to the last job leased (the empty answers that tell the agents the
          queue is done are not counted); then the server's job list must show every job leased exactly
          once, to the agent that got it. The claimers speak HTTP through h11 directly (`LeanConnection`):
          they share the two cores with the server, and httpx would take as much CPU as the server does
          (`--client httpx` to compare).
The defaults take about 2 minutes on 2 cores.
Usage:
    .venv/bin/python scripts/bench_farm_api.py [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--waiters 100] [--rounds 20] [--jobs 2000] [--claimers 16] [--client lean|httpx]
        [--only wake claims]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_api import drop_pg_database, pct, temp_pg_database  # noqa: E402
from sync_server.cli import system_uow  # noqa: E402
from sync_server.db.migrate import upgrade  # noqa: E402
from sync_server.farm import jobs  # noqa: E402
from sync_server.farm.schemas import JobSubmit  # noqa: E402
from sync_server.settings import Settings  # noqa: E402
from tests.support.server import ServerProcess, start_with_admin  # noqa: E402

GPU = [{"index": 0, "name": "NVIDIA GeForce RTX 4090", "vram_total_mb": 24564, "vram_free_mb": 24000}]
# A small i2v job whose ComfyUI graph is bound at submit, as the API tests use.
JOB = {
    "type": "i2v",
    "workflow": "cpu_test_still_video",
    "params": {"image": "first_frame.png", "width": 64, "height": 64, "length": 4, "fps": 8},
}
LONG_POLL_S = 30.0
HTTP_TIMEOUT_S = LONG_POLL_S + 30.0
WAITERS_SETTLE_S = 2.0  # after starting the long-polls, before the first submit
ROUND_GAP_S = 1.0  # between submits, for the waiters woken by the last job to go back to waiting
PROBES = 10  # probe heartbeats (a small write) timed with and without the waiters
LEASE_S = "3600"  # the bench's agents never heartbeat a job; their leases must outlast the run
LOG_TAIL = 4000  # characters of the server log shown when the bench fails
EMPTY_CHECKS = 3  # 204s in a row before a claimer believes the queue is empty


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = models[0] if models else cpu
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}), {system}, Python {sys.version.split()[0]}"


@dataclass
class Farm:
    """A running server with an admin token and one agent API key."""

    server: ServerProcess
    admin: str
    agent_key: str

    def client(self, token: str, connections: int = 20) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.server.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT_S,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )


def start_farm(data_dir: Path, url: str | None) -> Farm:
    env = {"AIPIPE_LOG_LEVEL": "WARNING", "AIPIPE_FARM_LEASE_S": LEASE_S}
    server, password = start_with_admin(data_dir, url, "bench", env)
    token = httpx.post(
        f"{server.url}/api/auth/login", json={"username": "bench", "password": password}
    ).json()["access_token"]
    key = httpx.post(
        f"{server.url}/api/api-keys",
        json={"name": "bench-agents", "role": "agent"},
        headers={"Authorization": f"Bearer {token}"},
    )
    key.raise_for_status()
    return Farm(server, token, key.json()["key"])


async def register(client: httpx.AsyncClient, count: int) -> list[str]:
    async def one(i: int) -> str:
        body = {"name": f"bench-{i:03d}-{uuid.uuid4().hex[:6]}", "gpus": GPU}
        response = await client.post("/api/farm/agents/register", json=body)
        response.raise_for_status()
        return response.json()["agent_id"]

    return [await one(i) for i in range(count)]


# -- wake latency ------------------------------------------------------------------------------------------


@dataclass
class Arrivals:
    """When each job's claim answer came back, and which waiters are waiting for which job."""

    at: dict[str, float] = field(default_factory=dict)
    seen: dict[str, asyncio.Event] = field(default_factory=dict)
    claims: Counter[str] = field(default_factory=Counter)

    def event(self, job_id: str) -> asyncio.Event:
        return self.seen.setdefault(job_id, asyncio.Event())


async def long_poll(client: httpx.AsyncClient, agent_id: str, arrivals: Arrivals) -> None:
    """One agent: hold a claim open, note the job it gets, claim again at once (it never runs the job)."""
    while True:
        response = await client.post(f"/api/farm/agents/{agent_id}/claim", json={"wait_s": LONG_POLL_S})
        if response.status_code == 200:
            job_id = response.json()["job"]["id"]
            arrivals.at.setdefault(job_id, time.perf_counter())
            arrivals.claims[job_id] += 1
            arrivals.event(job_id).set()
        elif response.status_code != 204:
            raise RuntimeError(f"claim answered {response.status_code}: {response.text}")


async def heartbeat_ms(client: httpx.AsyncClient, agent_id: str) -> float:
    started = time.perf_counter()
    response = await client.post(f"/api/farm/agents/{agent_id}/heartbeat", json={"state": "idle"})
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


async def probe_ms(client: httpx.AsyncClient, agent_id: str) -> float:
    """Median round trip of a small write (an agent heartbeat) at this moment."""
    times = []
    for _ in range(PROBES):
        times.append(await heartbeat_ms(client, agent_id))
        await asyncio.sleep(0.1)
    return statistics.median(times)


@dataclass
class Wake:
    after_accept: list[float] = field(default_factory=list)  # ms, submit answered -> claim answered
    after_send: list[float] = field(default_factory=list)  # ms, submit sent -> claim answered
    doubles: int = 0
    probe_idle_ms: float = 0.0  # a heartbeat's round trip with nobody waiting
    probe_waiting_ms: float = 0.0  # ... and with the waiters holding their long-polls, no job queued


async def bench_wake(farm: Farm, waiters: int, rounds: int) -> Wake:
    arrivals, wake = Arrivals(), Wake()
    async with farm.client(farm.agent_key, waiters + 10) as agents, farm.client(farm.admin) as admin:
        *ids, probe = await register(agents, waiters + 1)
        wake.probe_idle_ms = await probe_ms(agents, probe)
        pollers = [asyncio.create_task(long_poll(agents, agent_id, arrivals)) for agent_id in ids]
        try:
            await asyncio.sleep(WAITERS_SETTLE_S)
            wake.probe_waiting_ms = await probe_ms(agents, probe)
            for _ in range(rounds):
                sent = time.perf_counter()
                response = await admin.post("/api/farm/jobs", json=JOB)
                accepted = time.perf_counter()
                response.raise_for_status()
                job_id = response.json()["id"]
                await asyncio.wait_for(arrivals.event(job_id).wait(), timeout=LONG_POLL_S)
                wake.after_accept.append((arrivals.at[job_id] - accepted) * 1000)
                wake.after_send.append((arrivals.at[job_id] - sent) * 1000)
                await asyncio.sleep(ROUND_GAP_S)
        finally:
            for task in pollers:
                task.cancel()
            failed = [r for r in await asyncio.gather(*pollers, return_exceptions=True) if not _cancelled(r)]
            if failed:
                raise RuntimeError(f"{len(failed)} long-polls failed: {failed[0]!r}")
    wake.doubles = sum(n - 1 for n in arrivals.claims.values() if n > 1)
    return wake


def _cancelled(result: object) -> bool:
    return result is None or isinstance(result, asyncio.CancelledError)


# -- claims per second -------------------------------------------------------------------------------------


def queue_jobs(data_dir: Path, url: str | None, count: int) -> None:
    """Queue `count` jobs through the submit service before the server starts (as bench_api seeds shots)."""
    settings = Settings(data_dir=data_dir, database_url=url)
    settings.ensure_dirs()
    upgrade(settings.resolved_database_url)
    with system_uow(settings) as uow:
        for _ in range(count):
            jobs.submit(uow, settings, JobSubmit(**JOB))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), whatever else the machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Claims:
    got: list[tuple[str, str]] = field(default_factory=list)  # (job, agent) per claim answered 200
    errors: Counter[str] = field(default_factory=Counter)  # other answers, by status and detail
    last_at: float | None = None  # when the last job was leased (perf_counter)
    empty: int = 0  # 204 answers


class LeanConnection:
    """One keep-alive HTTP/1.1 connection speaking through h11 (the protocol library under httpx).

    The load generator shares this machine's two cores with the server; httpx spends about 1.6 ms of CPU
    a request (more with many connections), as much as the server's whole claim. This costs a fraction
    of that, so the figure measures the server. Agents themselves use httpx (render_agent)."""

    def __init__(self, url: str, token: str) -> None:
        parsed = httpx.URL(url)
        self._host, self._port = parsed.host, parsed.port
        self._headers = [
            ("Host", f"{self._host}:{self._port}"),
            ("Authorization", f"Bearer {token}"),
            ("Content-Type", "application/json"),
        ]
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._conn = h11.Connection(h11.CLIENT)

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if self._writer is None or self._conn.our_state is h11.MUST_CLOSE:
            await self.close()
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
            self._conn = h11.Connection(h11.CLIENT)
        assert self._reader is not None and self._writer is not None
        data = json.dumps(body).encode()
        headers = [*self._headers, ("Content-Length", str(len(data)))]
        self._writer.write(self._conn.send(h11.Request(method="POST", target=path, headers=headers)))
        self._writer.write(self._conn.send(h11.Data(data=data)) + self._conn.send(h11.EndOfMessage()))
        status, chunks = 0, []
        while True:
            event = self._conn.next_event()
            if event is h11.NEED_DATA:
                received = await self._reader.read(65536)
                if not received:
                    raise ConnectionError("the server closed the connection")
                self._conn.receive_data(received)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._conn.start_next_cycle()
                return status, b"".join(chunks)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


class HttpxConnection:
    """The same interface over a shared httpx client (`--client httpx`), to compare the two."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        try:
            response = await self._client.post(path, json=body)
        except httpx.TransportError as exc:
            raise ConnectionError(repr(exc)) from exc
        return response.status_code, response.content

    async def close(self) -> None:
        return None


async def claimer(connection: LeanConnection | HttpxConnection, agent_id: str, claims: Claims) -> None:
    """Claim until the queue looks empty; an error answer is noted and the agent claims again."""
    empty = 0
    path = f"/api/farm/agents/{agent_id}/claim"
    try:
        while empty < EMPTY_CHECKS:
            try:
                status, body = await connection.post(path, {"wait_s": 0})
            except (OSError, h11.ProtocolError) as exc:  # the answer (maybe a lease) is lost: claim again
                claims.errors[f"no answer: {exc!r}"] += 1
                await connection.close()
                continue
            if status == 200:
                claims.got.append((json.loads(body)["job"]["id"], agent_id))
                claims.last_at = time.perf_counter()
                empty = 0
            elif status == 204:
                empty += 1
                claims.empty += 1
            else:
                claims.errors[f"{status} {json.loads(body).get('detail', '')}"] += 1
    finally:
        await connection.close()


async def bench_claims(farm: Farm, claimers: int, client: str) -> dict[str, Any]:
    claims = Claims()
    async with farm.client(farm.agent_key, claimers + 5) as agents, farm.client(farm.admin) as admin:
        ids = await register(agents, claimers)
        server_cpu, bench_cpu = cpu_seconds(farm.server.process.pid), time.process_time()
        started = time.perf_counter()
        connections: list[LeanConnection | HttpxConnection] = [
            LeanConnection(farm.server.url, farm.agent_key) if client == "lean" else HttpxConnection(agents)
            for _ in ids
        ]
        await asyncio.gather(
            *(claimer(c, agent_id, claims) for c, agent_id in zip(connections, ids, strict=True))
        )
        elapsed = (claims.last_at or time.perf_counter()) - started
        server_cpu = cpu_seconds(farm.server.process.pid) - server_cpu
        bench_cpu = time.process_time() - bench_cpu
        listed = (await admin.get("/api/farm/jobs", params={"limit": 5000})).json()
    per_job = Counter(job_id for job_id, _ in claims.got)
    holder = dict(claims.got)
    server = {j["id"]: j for j in listed["items"]}
    return {
        "claims": len(claims.got),
        "server_cpu": server_cpu,
        "bench_cpu": bench_cpu,
        "requests": len(claims.got) + sum(claims.errors.values()) + claims.empty,
        "elapsed": elapsed,
        "jobs": listed["total"],
        "errors": claims.errors,
        "double": sum(n - 1 for n in per_job.values() if n > 1),
        # leased on the server, but the claim's answer never reached an agent
        "lost": sum(1 for j in server.values() if j["status"] == "running" and j["id"] not in holder),
        "left": sum(1 for j in server.values() if j["status"] != "running"),
        "mismatch": sum(1 for job_id, agent in holder.items() if server[job_id]["agent_id"] != agent),
        "per_agent": Counter(agent for _, agent in claims.got),
    }


# -- driver ------------------------------------------------------------------------------------------------


@contextmanager
def running_farm(data_dir: Path, url: str | None) -> Iterator[Farm]:
    """A started farm; when the bench fails, the tail of the server's log says why."""
    farm = start_farm(data_dir, url)
    try:
        yield farm
    except Exception:
        print(f"server log (tail):\n{farm.server.log()[-LOG_TAIL:]}", file=sys.stderr)
        raise
    finally:
        farm.server.stop()


def run_wake(label: str, url: str | None, args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory() as tmp, running_farm(Path(tmp), url) as farm:
        wake = asyncio.run(bench_wake(farm, args.waiters, args.rounds))
    accept, send = wake.after_accept, wake.after_send
    print(
        f"{label:10} wake   {args.waiters} long-polls, submit answered -> claim answered  n={len(accept)}"
        f"  p50 {pct(accept, 50):6.1f} ms  p99 {pct(accept, 99):6.1f} ms  max {max(accept):6.1f} ms"
    )
    print(
        f"{label:10}        submit sent -> claim answered  p50 {pct(send, 50):6.1f} ms"
        f"  p99 {pct(send, 99):6.1f} ms;  a heartbeat's round trip: {wake.probe_idle_ms:.1f} ms idle,"
        f" {wake.probe_waiting_ms:.1f} ms with the long-polls open;  double claims {wake.doubles}"
    )
    return wake.doubles == 0


def run_claims(label: str, url: str | None, args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        queued_at = time.perf_counter()
        queue_jobs(Path(tmp), url, args.jobs)
        queued_s = time.perf_counter() - queued_at
        with running_farm(Path(tmp), url) as farm:
            result = asyncio.run(bench_claims(farm, args.claimers, args.client))
    spread = result["per_agent"].values() or [0]
    print(
        f"{label:10} claims {result['claims']} of {args.jobs} queued jobs by {args.claimers} agents in"
        f" {result['elapsed']:5.1f} s = {result['claims'] / result['elapsed']:6.1f} claims/s"
        f"  (per agent {min(spread)}..{max(spread)}; queued in-process in {queued_s:.1f} s)"
    )
    requests = max(1, result["requests"])
    print(
        f"{label:10}        CPU per request: server {result['server_cpu'] / requests * 1000:.2f} ms,"
        f" this client {result['bench_cpu'] / requests * 1000:.2f} ms ({requests} requests, 204s included)"
        f" -> one server process is bound at {requests / max(result['server_cpu'], 1e-9):.0f} requests/s"
    )
    errors = sum(result["errors"].values())
    sound = errors == 0 and result["double"] == result["lost"] == result["left"] == result["mismatch"] == 0
    print(
        f"{label:10}        leased twice {result['double']}, leased to another agent than the claimer"
        f" {result['mismatch']}, never leased {result['left']}, leased but the answer lost {result['lost']},"
        f" error answers {errors} -> {'OK: every job leased exactly once' if sound else 'FAIL'}"
    )
    for error, count in result["errors"].most_common(3):
        print(f"{label:10}        {count} x {error[:150]}")
    return sound


@contextmanager
def database(pg_url: str | None) -> Iterator[str | None]:
    """None (SQLite in the data folder), or a new PostgreSQL database dropped afterwards."""
    url = temp_pg_database(pg_url) if pg_url else None
    try:
        yield url
    finally:
        if url:
            drop_pg_database(url)


def run_backend(label: str, pg_url: str | None, args: argparse.Namespace) -> bool:
    """Each test on an empty database of its own."""
    sound = True
    for name, bench in (("wake", run_wake), ("claims", run_claims)):
        if name in args.only:
            with database(pg_url) as url:
                if pg_url and not url:
                    return sound
                sound = bench(label, url, args) and sound
    return sound


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waiters", type=int, default=100, help="agents long-polling (wake test)")
    parser.add_argument("--rounds", type=int, default=20, help="jobs submitted one at a time (wake test)")
    parser.add_argument(
        "--jobs", type=int, default=2000, help="jobs queued beforehand (claims test; at most 5000)"
    )
    parser.add_argument("--claimers", type=int, default=16, help="agents claiming at once (claims test)")
    parser.add_argument(
        "--only", nargs="+", choices=["wake", "claims"], default=["wake", "claims"], help="run only these"
    )
    parser.add_argument(
        "--client",
        choices=["lean", "httpx"],
        default="lean",
        help="the claimers' HTTP client: h11 on asyncio streams, or httpx (more of the shared CPU)",
    )
    parser.add_argument("--pg-url", default=os.environ.get("AIPIPE_TEST_PG_URL"))
    args = parser.parse_args()
    print(f"machine: {machine()}")
    started = time.perf_counter()
    sound = run_backend("sqlite", None, args)
    if args.pg_url:
        sound = run_backend("postgresql", args.pg_url, args) and sound
    print(f"total {time.perf_counter() - started:.0f} s")
    sys.exit(0 if sound else 1)


if __name__ == "__main__":
    main()
