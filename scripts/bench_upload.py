"""Upload throughput: a big file (2 GB by default) sent to a real `aipipe server` on loopback, against a
disk copy of the same file, with the server's memory watched while it arrives.

Paths measured:
- `job output`: the agent's own upload code (`render_agent.server_client.FarmClient.upload_output`, a
  streamed multipart POST /api/farm/jobs/{id}/outputs) of a leased job; the agent hashes the file first,
  as it does before every upload (timed apart: `hash`);
- `durable copy`: `cp` of the same file on the same disk plus one fsync of the copy: what the server has to
  do at least (write every byte once and make it durable: it fsyncs each output before renaming it into
  place). The target's reference;
- `cached copy`: the same `cp` without the fsync (the copy may still be in the page cache when it ends),
  reported for comparison: it is not a like-for-like reference, since an upload is answered only once
  its file is on disk;
- `pieces` (--pieces): hashlib's sha256 of the source over 1 MiB chunks (what the server's verification
  costs at least), one core; and the same client's upload to a bare ASGI app under uvicorn with the
  server's settings (httptools + uvloop when installed, as `aipipe server` runs) that only counts the
  bytes: what receiving the body costs before anything is parsed, hashed or written.

- `raw path` (--raw): no HTTP at all, what a second, bare data port would do at best: the file sent with
  `sendfile` over a loopback TCP socket, received with `splice` (socket → pipe → file, no byte through
  user space), hashed by a second thread from the page cache one 8 MiB step behind, written back every
  64 MiB, fsynced once: the ceiling for any upload that keeps verifying every byte on this machine.

The source file is read from the page cache in every case (it is read once before the first run). The
server's resident memory (VmRSS of its process, read from /proc every 20 ms) is reported as the largest
growth over its value before the upload. Targets: upload ≥ 0.8 × the durable copy's rate, growth
< 100 MB. Files go to a temporary folder under --tmp (default /tmp) and are deleted afterwards.
--profile DIR records each upload's server side with py-spy (if installed) into DIR as raw stacks.

    .venv/bin/python scripts/bench_upload.py [--size-mb 2048] [--tmp /tmp] [--runs 2] [--pieces]
        [--raw] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from render_agent.server_client import FarmClient, sha256_file  # noqa: E402
from scripts.bench_farm_api import GPU, JOB, machine  # noqa: E402
from tests.support.server import ServerProcess, start_with_admin  # noqa: E402

BLOCK = 16 * 1024 * 1024
MB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class RssWatch:
    """The largest VmRSS of a process (and its children's sum) while the block runs, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> RssWatch:
        self.before = self.peak = rss_bytes(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / MB


def make_file(path: Path, size: int) -> None:
    """`size` bytes of incompressible data (a random 16 MiB block, each copy tagged so none repeats)."""
    block = bytearray(os.urandom(BLOCK))
    with path.open("wb") as fh:
        written, n = 0, 0
        while written < size:
            block[:8] = n.to_bytes(8, "little")
            piece = block[: min(BLOCK, size - written)]
            fh.write(piece)
            written += len(piece)
            n += 1


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def disk_copy(source: Path, target: Path, *, durable: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `cp`, plus one fsync of the copy if `durable`. The disk is made
    idle first (`sync`), so neither copy pays for the writeback of what ran before it."""
    os.sync()
    before = os.times()
    started = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    if durable:
        with target.open("rb") as fh:
            os.fsync(fh.fileno())
    elapsed = time.perf_counter() - started
    after = os.times()
    target.unlink()
    os.sync()
    cpu = after.children_user - before.children_user + after.children_system - before.children_system
    return elapsed, cpu + after.system - before.system


def hash_rate(path: Path) -> tuple[float, float]:
    """(seconds, MB/s) of hashlib's sha256 over the file's bytes in 1 MiB chunks, reads not counted."""
    digest = hashlib.sha256()
    spent = 0.0
    with path.open("rb") as fh:
        while chunk := fh.read(MB):
            started = time.perf_counter()
            digest.update(chunk)
            spent += time.perf_counter() - started
    return spent, path.stat().st_size / spent / MB


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that reads a request's body and answers how many bytes it got (--pieces)."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    answer = json.dumps({"outputs": [{"name": "bare", "size": size}]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def bare_receive(path: Path) -> tuple[float, float, float]:
    """(seconds, server CPU, client CPU) of the agent's multipart upload of `path` to `bare_app` under
    uvicorn (its default HTTP implementation and loop: httptools and uvloop when installed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "scripts.bench_upload:bare_app", "--port", str(port)]
    bare = subprocess.Popen([*command, "--log-level", "warning", "--lifespan", "off"], cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url, timeout=1)
                break
            time.sleep(0.05)

        async def send() -> None:
            async with FarmClient(url, "bare", transfer_timeout=1800) as client:
                await client.upload_output("0", "0", path, name="bare", sha256="")

        server_cpu, client_cpu, started = cpu_s(bare.pid), time.process_time(), time.perf_counter()
        asyncio.run(send())
        elapsed = time.perf_counter() - started
        return elapsed, cpu_s(bare.pid) - server_cpu, time.process_time() - client_cpu
    finally:
        bare.terminate()
        bare.wait()


def raw_upload(source: Path, target: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of the raw path (--raw): sendfile → splice → file,
    sha256 on a second thread from the page cache, fsync; the digest is checked against the source's."""
    size = source.stat().st_size
    step = 8 * MB
    listener = socket.create_server(("127.0.0.1", 0))
    digest: list[str] = []

    def receive() -> None:
        conn, _ = listener.accept()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        pipe_r, pipe_w = os.pipe()
        fcntl.fcntl(pipe_w, getattr(fcntl, "F_SETPIPE_SZ", 1031), MB)  # 1 MiB a splice, not 64 KiB
        written, hashed, done = 0, 0, threading.Condition()

        def hasher() -> None:
            nonlocal hashed
            sha = hashlib.sha256()
            buffer = bytearray(step)
            view = memoryview(buffer)
            with open(target, "rb", buffering=0) as reader:
                while hashed < size:
                    with done:
                        done.wait_for(lambda at=hashed: written - at >= step or written == size)
                    n = os.preadv(reader.fileno(), [view[: min(step, written - hashed)]], hashed)
                    sha.update(view[:n])
                    hashed += n
                    if hashed % (64 * MB) == 0:  # hashed: let the kernel write it back
                        os.posix_fadvise(reader.fileno(), 0, hashed, os.POSIX_FADV_DONTNEED)
            digest.append(sha.hexdigest())

        thread = threading.Thread(target=hasher)
        thread.start()
        try:
            while written < size:
                n = os.splice(conn.fileno(), pipe_w, min(MB, size - written))
                if n == 0:
                    raise ConnectionError("the raw upload ended early")
                moved = 0
                while moved < n:
                    moved += os.splice(pipe_r, fd, n - moved)
                with done:
                    written += n
                    done.notify()
            thread.join()
            os.fsync(fd)
            conn.sendall(b"ok")
        finally:
            os.close(fd)
            os.close(pipe_r)
            os.close(pipe_w)
            conn.close()

    server = threading.Thread(target=receive)
    server.start()
    before = os.times()
    started = time.perf_counter()
    with socket.create_connection(listener.getsockname()) as conn, source.open("rb") as fh:
        conn.sendfile(fh)
        assert conn.recv(2) == b"ok"
    elapsed = time.perf_counter() - started
    after = os.times()
    server.join()
    listener.close()
    assert digest == [sha256_file(source)], "the raw path's hash is not the source's"
    target.unlink()
    return elapsed, after.user - before.user + after.system - before.system


def profiler(pid: int, out: Path | None) -> subprocess.Popen[bytes] | None:
    """py-spy recording the server (every thread, 200 Hz) until stopped, or None."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if out is None or spy is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [spy, "record", "--pid", str(pid), "-r", "200", "--threads", "-f", "raw", "-o", str(out)]
    return subprocess.Popen([*command, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def leased_job(url: str, admin: str, agent_key: str) -> tuple[str, str, str]:
    """Queue a job, register an agent and claim it: (agent id, job id, lease id)."""
    with httpx.Client(base_url=url, timeout=60) as http:
        submitted = http.post("/api/farm/jobs", json=JOB, headers={"Authorization": f"Bearer {admin}"})
        submitted.raise_for_status()
        auth = {"Authorization": f"Bearer {agent_key}"}
        body = {"name": f"bench-upload-{uuid.uuid4().hex[:6]}", "gpus": GPU}
        agent = http.post("/api/farm/agents/register", json=body, headers=auth)
        agent.raise_for_status()
        agent_id = agent.json()["agent_id"]
        claim = http.post(f"/api/farm/agents/{agent_id}/claim", json={"wait_s": 5}, headers=auth)
        claim.raise_for_status()
        answer = claim.json()
        return agent_id, answer["job"]["id"], str(answer["lease"]["id"])


async def upload(
    url: str, agent_key: str, job_id: str, lease_id: str, path: Path
) -> tuple[float, float, float]:
    """(seconds to hash, seconds to upload, agent CPU seconds of the upload) through the agent's client."""
    started = time.perf_counter()
    sha = await asyncio.to_thread(sha256_file, path)
    hashed, cpu = time.perf_counter(), time.process_time()
    async with FarmClient(url, agent_key, transfer_timeout=1800) as client:
        answer = await client.upload_output(job_id, lease_id, path, name=path.name, sha256=sha)
    done, cpu = time.perf_counter(), time.process_time() - cpu
    stored = {o["name"]: o for o in answer["outputs"]}[path.name]
    assert stored["sha256"] == sha and stored["size"] == path.stat().st_size, stored
    return hashed - started, done - hashed, cpu


def start(data_dir: Path) -> tuple[ServerProcess, str, str]:
    env = {"AIPIPE_LOG_LEVEL": "WARNING", "AIPIPE_FARM_LEASE_S": "3600"}
    server, password = start_with_admin(data_dir, None, "bench", env)
    token = httpx.post(
        f"{server.url}/api/auth/login", json={"username": "bench", "password": password}
    ).json()["access_token"]
    key = httpx.post(
        f"{server.url}/api/api-keys",
        json={"name": "bench-agents", "role": "agent"},
        headers={"Authorization": f"Bearer {token}"},
    )
    key.raise_for_status()
    return server, token, key.json()["key"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=2048)
    parser.add_argument("--tmp", type=Path, default=Path("/tmp"))
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--pieces", action="store_true", help="also time sha256 alone")
    parser.add_argument("--raw", action="store_true", help="also time the raw path (no HTTP) each run")
    parser.add_argument("--profile", type=Path, help="py-spy each upload's server into this folder")
    args = parser.parse_args()
    print(machine())
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    size = args.size_mb * MB
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench-upload-") as tmp:
        folder = Path(tmp)
        source = folder / "big_output.mp4"
        make_file(source, size)
        server, admin, agent_key = start(folder / "server")
        try:
            assert server.process is not None
            pid = server.process.pid
            if args.pieces:
                spent, rate = hash_rate(source)
                print(f"sha256 alone (1 MiB chunks, one core): {spent:5.2f} s = {rate:5.0f} MB/s", flush=True)
                bare_s, bare_server, bare_client = bare_receive(source)
                print(
                    f"the agent's upload to a bare uvicorn app that only counts the bytes: {bare_s:5.2f} s = "
                    f"{size / bare_s / MB:5.0f} MB/s, CPU server {bare_server:5.2f} s + agent "
                    f"{bare_client:5.2f} s",
                    flush=True,
                )
            for run in range(1, args.runs + 1):
                # Unmeasured: the first copy after other work pays for reclaiming page cache (here up to
                # 2x slower); after it, each measured step starts with `size` bytes of memory just freed.
                disk_copy(source, folder / "copy.bin", durable=False)
                cached_s, cached_cpu = disk_copy(source, folder / "copy.bin", durable=False)
                copy_s, copy_cpu = disk_copy(source, folder / "copy.bin", durable=True)
                _, job_id, lease_id = leased_job(server.url, admin, agent_key)
                os.sync()
                server_cpu = cpu_s(pid)
                spy = profiler(pid, args.profile and args.profile / f"server-run{run}.txt")
                with RssWatch(pid) as watch:
                    hash_s, upload_s, client_cpu = asyncio.run(
                        upload(server.url, agent_key, job_id, lease_id, source)
                    )
                server_cpu = cpu_s(pid) - server_cpu
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait()
                rate = {
                    "cached": size / cached_s / MB,
                    "durable": size / copy_s / MB,
                    "upload": size / upload_s / MB,
                }
                load = os.getloadavg()[0]
                print(
                    f"run {run} (load {load:4.1f}): {args.size_mb} MB\n"
                    f"  durable copy (cp + fsync) {copy_s:6.2f} s ({rate['durable']:5.0f} MB/s, CPU "
                    f"{copy_cpu:5.2f} s)   cached copy (cp) {cached_s:6.2f} s ({rate['cached']:5.0f} MB/s, "
                    f"CPU {cached_cpu:5.2f} s)\n"
                    f"  job output upload {upload_s:6.2f} s ({rate['upload']:5.0f} MB/s) = "
                    f"{rate['upload'] / rate['durable']:4.2f} x the durable copy (target >= 0.8), "
                    f"{rate['upload'] / rate['cached']:4.2f} x the cached copy\n"
                    f"  CPU server {server_cpu:5.2f} s + agent {client_cpu:5.2f} s (agent hash before it "
                    f"{hash_s:5.2f} s)   server RSS {watch.before / MB:5.0f} MB, peak "
                    f"+{watch.growth_mb:5.1f} MB (target < 100)",
                    flush=True,
                )
                shutil.rmtree(server.data_dir / "storage" / ".farm", ignore_errors=True)
                if args.raw:
                    os.sync()
                    raw_s, raw_cpu = raw_upload(source, folder / "raw.bin")
                    print(
                        f"  raw path (sendfile -> splice -> file, sha256 beside it, no HTTP) {raw_s:6.2f} s "
                        f"({size / raw_s / MB:5.0f} MB/s) = {copy_s / raw_s:4.2f} x the durable copy, CPU "
                        f"{raw_cpu:5.2f} s",
                        flush=True,
                    )
        except Exception:
            print(server.log()[-4000:], file=sys.stderr)
            raise
        finally:
            server.stop()
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
