"""Benchmark: conform + master of a long edit against one ffmpeg concat+encode pass over the same media, and
both after a one-shot change (issue 17; BENCHMARKS.md "Conform and masters of a 300-shot, 15-minute edit").

    .venv/bin/python scripts/bench_conform.py [--shots 300] [--minutes 15] [--size 640x360]
        [--master h264|h265|prores_hq] [--burn-ins]

The master is H.264 by default (it copies the conform's picture); another format, or burn-ins, makes it
encode the picture, shot by shot (pieces kept in the agent's cache), so the one-shot change shows what a
later master re-encodes.

Synthetic media: one moving test pattern encoded once and split (stream copy) into one movie per shot, each
with an 8-frame head and tail handle around a cut of 48-96 frames, so every shot has its own file and
checksum. The conform and the master are the agent's own code (render_agent.delivery_jobs and
delivery_master) on files already on the agent's disk (linked, not downloaded: the encode strategy is what is
measured). The baseline is the obvious single pass: ffmpeg's concat demuxer with each shot's in/out points
and one libx264 encode with the same settings as the conform's H.264 segments. Every result's frame count is
checked with PyAV. Prints a JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import imageio_ffmpeg  # noqa: E402

from aipipe_shared.delivery import PROFILES, frame_count  # noqa: E402
from render_agent.delivery_jobs import make_conform  # noqa: E402
from render_agent.delivery_master import make_master  # noqa: E402

FPS = 24
HANDLE = 8


def _lengths(shots: int, total: int, seed: int = 17) -> list[int]:
    """`shots` cut lengths of 48-96 frames adding up to `total`."""
    rng = random.Random(seed)
    lengths = [rng.randint(48, 96) for _ in range(shots)]
    diff = total - sum(lengths)
    i = 0
    while diff:
        step = 1 if diff > 0 else -1
        if 48 <= lengths[i % shots] + step <= 96:
            lengths[i % shots] += step
            diff -= step
        i += 1
    return lengths


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_media(folder: Path, lengths: list[int], size: str, exe: str) -> list[Path]:
    """One movie per shot (head handle + cut + tail handle), cut by stream copy from one encode."""
    folder.mkdir(parents=True, exist_ok=True)
    held = [HANDLE + n + HANDLE for n in lengths]
    starts = [sum(held[:i]) for i in range(1, len(held))]
    total = sum(held)
    source = folder / "all.mp4"
    keys = ",".join(f"{max(0.0, (s - 0.5) / FPS):.6f}" for s in [0, *starts])
    subprocess.run(
        [exe, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={size}:r={FPS}", "-frames:v", str(total),
         "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "1000", "-sc_threshold", "0",
         "-force_key_frames", keys, "-pix_fmt", "yuv420p", str(source)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [exe, "-v", "error", "-y", "-i", str(source), "-c", "copy", "-f", "segment",
         "-segment_frames", ",".join(map(str, starts)), "-reset_timestamps", "1",
         str(folder / "shot_%04d.mp4")],
        check=True,
    )  # fmt: skip
    source.unlink()
    movies = sorted(folder.glob("shot_*.mp4"))
    assert len(movies) == len(lengths), f"{len(movies)} movies for {len(lengths)} shots"
    return movies


def baseline(exe: str, movies: list[Path], lengths: list[int], size: str, out: Path, sound: bool) -> float:
    """One ffmpeg: the concat demuxer over every shot's in/out points, one encode; with `sound`, a stereo
    AAC track too (silence: the media have none), as a delivery master has."""
    listing = out.with_suffix(".txt")
    lines = []
    for movie, frames in zip(movies, lengths, strict=True):
        lines.append(f"file '{movie}'\ninpoint {HANDLE / FPS:.6f}\noutpoint {(HANDLE + frames) / FPS:.6f}\n")
    listing.write_text("".join(lines))
    width, height = size.split("x")
    started = time.monotonic()
    audio = ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"] if sound else []
    audio_out = (
        ["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "320k", "-shortest"] if sound else ["-an"]
    )
    subprocess.run(
        [exe, "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), *audio,
         "-vf", f"fps={FPS},scale={width}:{height}", *audio_out, *PROFILES["h264"].args, str(out)],
        check=True,
    )  # fmt: skip
    return time.monotonic() - started


async def _link(url: str, dest: Path, sha256: str | None, what: str) -> str:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        os.link(url, dest)
    return sha256 or ""


def conform_and_master(
    exe: str,
    params: dict[str, Any],
    work: Path,
    cache: Path,
    job: str,
    frames: int,
    master: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Conform, then a master (`master`: its params besides the edit's; by default an H.264 one, which
    copies the conform's picture)."""
    started = time.monotonic()
    files, report = asyncio.run(make_conform(exe, params, _link, work / job, cache, lambda _p, _s: None))
    conform_s = time.monotonic() - started
    master_job = {
        "params": {
            "name": f"{job}_master",
            "format": "h264",
            "fps": str(FPS),
            "width": params["width"],
            "height": params["height"],
            "frames": frames,
        }
        | (master or {}),
        "parents": [{"outputs": [{"name": files[0].name, "url": str(files[0]), "sha256": None}]}],
    }
    started = time.monotonic()
    masters, master_report = asyncio.run(
        make_master(exe, master_job, _link, work / f"{job}_m", lambda _p, _s: None, cache)
    )
    master_s = time.monotonic() - started
    assert frame_count(masters[0]) == frames
    whole_s = None
    if master_report["pieces"] is not None:  # the same master encoded whole, as before pieces, to compare
        started = time.monotonic()
        asyncio.run(make_master(exe, master_job, _link, work / f"{job}_w", lambda _p, _s: None, None))
        whole_s = round(time.monotonic() - started, 2)
    return {
        "conform_s": round(conform_s, 2),
        "master_s": round(master_s, 2),
        "total_s": round(conform_s + master_s, 2),
        "encode_s": report["encode_seconds"],
        "encoded": report["encoded"],
        "reused": report["reused"],
        "master_reused_sound": master_report["reused_sound"],
        "master_pieces": master_report["pieces"],
        "master_whole_s": whole_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--work", type=Path, default=None, help="Default: a temporary folder.")
    parser.add_argument(
        "--master", default="h264", choices=["h264", "h265", "prores_hq"], help="The master's format."
    )
    parser.add_argument(
        "--burn-ins", action="store_true", help="Shot codes, record timecode and frame numbers burnt in."
    )
    args = parser.parse_args()
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    frames = round(args.minutes * 60 * FPS)
    lengths = _lengths(args.shots, frames)
    with tempfile.TemporaryDirectory(prefix="bench-conform-") as tmp:
        work = args.work or Path(tmp)
        started = time.monotonic()
        movies = make_media(work / "media", lengths, args.size, exe)
        media_s = time.monotonic() - started
        width, height = (int(v) for v in args.size.split("x"))
        shots = [
            {
                "code": f"SHT_{i + 1:04d}",
                "frames": n,
                "source_in": HANDLE,
                "media": {"url": str(m), "sha256": _sha(m), "name": m.name},
            }
            for i, (m, n) in enumerate(zip(movies, lengths, strict=True))
        ]
        params = {"name": "bench_conform", "fps": str(FPS), "width": width, "height": height, "shots": shots}
        params["audio"] = {"tracks": [{"name": "reference", "clips": []}, {"name": "temp", "clips": []}]}
        master: dict[str, Any] = {"format": args.master}
        if args.burn_ins:
            starts = [sum(lengths[:i]) for i in range(len(lengths))]
            burnt = [
                {"code": s["code"], "start": a, "frames": s["frames"]}
                for s, a in zip(shots, starts, strict=True)
            ]
            master["burn_ins"] = {"shots": burnt, "timecode": "01:00:00:00", "frame": True}

        base_out = work / "baseline.mp4"
        base_s = baseline(exe, movies, lengths, args.size, base_out, sound=False)
        base_frames = frame_count(base_out)
        sound_s = baseline(exe, movies, lengths, args.size, work / "baseline_sound.mp4", sound=True)
        full = conform_and_master(exe, params, work, work / "cache", "full", frames, master)
        # Again after the conform: on a shared machine the load moves; the two runs bracket the conform.
        sound_after_s = baseline(exe, movies, lengths, args.size, work / "baseline_sound.mp4", sound=True)

        # One shot changes: a new take (new file, new checksum) of the middle shot.
        middle = len(shots) // 2
        changed = work / "media" / "changed.mp4"
        subprocess.run(
            [exe, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=s={args.size}:r={FPS}",
             "-frames:v", str(HANDLE * 2 + lengths[middle]), "-c:v", "libx264", "-preset", "ultrafast",
             "-pix_fmt", "yuv420p", str(changed)],
            check=True,
        )  # fmt: skip
        shots[middle] = {
            **shots[middle],
            "media": {"url": str(changed), "sha256": _sha(changed), "name": "changed.mp4"},
        }
        one = conform_and_master(exe, params, work, work / "cache", "one", frames, master)

    report = {
        "shots": args.shots,
        "frames": frames,
        "size": args.size,
        "master": args.master,
        "burn_ins": args.burn_ins,
        "media_generation_s": round(media_s, 1),
        "baseline_single_pass_s": round(base_s, 2),
        "baseline_frames": base_frames,
        "full": full,
        "baseline_with_aac_s": [round(sound_s, 2), round(sound_after_s, 2)],
        "full_vs_baseline": round(full["total_s"] / base_s, 3),
        "full_vs_baseline_with_aac": round(full["total_s"] / ((sound_s + sound_after_s) / 2), 3),
        "one_shot_change": one,
        "one_shot_vs_full_conform": round(one["conform_s"] / full["conform_s"], 3),
        "one_shot_vs_full_total": round(one["total_s"] / full["total_s"], 3),
        "cpu_count": os.cpu_count(),
        "load_at_end": os.getloadavg(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
