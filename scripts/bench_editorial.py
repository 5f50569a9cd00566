"""Editorial benchmarks.

Proxy movie (run with the project venv): N stills x S seconds at 720p / 24 fps.
  baseline  one ffmpeg pass: concat demuxer over the stills, scaled, shot code burnt in, x264 veryfast;
  full      `sync_server.editorial.proxy.render_proxy` with an empty segment cache (every shot encoded,
            then joined with -c copy);
  one shot  the same after one shot's length changed: one segment encoded, the rest joined from the cache.
Targets (issue 6): full <= 1.2 x baseline, one shot <= 5 % of full. Frame counts are checked with PyAV.

    .venv/bin/python scripts/bench_editorial.py proxy [--shots 300] [--seconds 3] [--height 720] [--workers 2]

VSE build (run with a Blender venv): 1,000 strips from a shot list with the add-on's build code
(`blender_addon.editorial.vse.build_edit`), against a plain loop of `strips.new_image` over local stills.

    .venv-blender-4.5/bin/python scripts/bench_editorial.py vse [--shots 1000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _stills(folder: Path, count: int, width: int, height: int) -> list[Path]:
    from PIL import Image, ImageDraw

    paths = []
    for index in range(count):
        path = folder / f"still_{index:04d}.png"
        image = Image.new("RGB", (width, height), ((index * 37) % 255, (index * 91) % 255, 120))
        ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2), fill="white")
        image.save(path)
        paths.append(path)
    return paths


def _frames(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def bench_proxy(args: argparse.Namespace) -> None:
    import imageio_ffmpeg

    from sync_server.editorial.proxy import ENCODER, ProxySpec, render_proxy
    from sync_server.editorial.timeline import EditMedia, EditShot

    fps = 24
    frames = args.seconds * fps
    height = args.height
    width = height * 16 // 9
    with tempfile.TemporaryDirectory(prefix="aipipe-bench-") as tmp:
        folder = Path(tmp)
        stills = _stills(folder, args.shots, width, height)
        shots = [
            EditShot(
                shot_id=uuid.uuid4(),
                code=f"SHT_{(index + 1) * 10:04d}",
                duration=frames,
                media=EditMedia(uuid.uuid4(), "previz", 1, path.name, path, path.name, True, None, path.name),
            )
            for index, path in enumerate(stills)
        ]
        listing = folder / "baseline.txt"
        listing.write_text(
            "".join(f"file '{p}'\nduration {args.seconds}\n" for p in stills) + f"file '{stills[-1]}'\n"
        )
        baseline_out = folder / "baseline.mp4"
        started = time.perf_counter()
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "concat", "-safe", "0",
                "-i", str(listing), "-vf", f"fps={fps},scale={width}:{height},drawtext=font=Sans:"
                f"text='SHT':fontsize={height // 18}:fontcolor=white:x=20:y=h-th-40",
                "-frames:v", str(frames * args.shots), *ENCODER, str(baseline_out),
            ],
            check=True,
        )  # fmt: skip
        baseline = time.perf_counter() - started

        spec = ProxySpec(fps, 1, width, height, workers=args.workers)
        cache = folder / "segments"
        started = time.perf_counter()
        full = render_proxy(shots, spec, cache, folder / "full.mp4")
        full_s = time.perf_counter() - started

        middle = len(shots) // 2
        shots[middle] = EditShot(
            shots[middle].shot_id, shots[middle].code, frames + 5, media=shots[middle].media
        )
        started = time.perf_counter()
        again = render_proxy(shots, spec, cache, folder / "again.mp4")
        again_s = time.perf_counter() - started

        expected = [frames * args.shots, frames * args.shots, frames * args.shots + 5]
        counted = [_frames(baseline_out), _frames(folder / "full.mp4"), _frames(folder / "again.mp4")]
    print(
        f"proxy: {args.shots} stills x {args.seconds} s at {width}x{height} / {fps} fps, "
        f"{args.workers} workers"
    )
    print(f"  baseline one ffmpeg pass      {baseline:8.2f} s   frames {counted[0]} (expected {expected[0]})")
    print(
        f"  full build (empty cache)      {full_s:8.2f} s   frames {counted[1]} (expected {expected[1]})"
        f"   encoded {full.encoded}   ratio to baseline {full_s / baseline:.2f} (target <= 1.2)"
    )
    print(
        f"  after one shot changed        {again_s:8.2f} s   frames {counted[2]} (expected {expected[2]})"
        f"   encoded {again.encoded}   share of full {100 * again_s / full_s:.1f} % (target <= 5 %)"
    )
    if counted != expected or again.encoded != 1:
        raise SystemExit("frame counts or encode count are wrong")


def bench_vse(args: argparse.Namespace) -> None:
    from blender_addon.editorial import vse  # inside a Blender venv: it needs bpy

    with tempfile.TemporaryDirectory(prefix="aipipe-bench-") as tmp:
        stills = _stills(Path(tmp), 8, 320, 180)
        print(vse.benchmark_build(args.shots, stills))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    proxy = sub.add_parser("proxy")
    proxy.add_argument("--shots", type=int, default=300)
    proxy.add_argument("--seconds", type=int, default=3)
    proxy.add_argument("--height", type=int, default=720)
    proxy.add_argument("--workers", type=int, default=2)
    vse_parser = sub.add_parser("vse")
    vse_parser.add_argument("--shots", type=int, default=1000)
    args = parser.parse_args()
    bench_proxy(args) if args.what == "proxy" else bench_vse(args)


if __name__ == "__main__":
    main()
