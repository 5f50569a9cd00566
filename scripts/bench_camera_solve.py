"""Camera solve from one picture (issue 15): the solver over the Blender-made set, clean and perturbed.

    .venv-blender-5.0/bin/python scripts/camera_set/make_set.py          # once: renders .cache/camera_set
    .venv/bin/python scripts/bench_camera_solve.py [--set .cache/camera_set ...] [--limit N] [--jobs N]

Prints, for each set (one per seed) and for all sets together, per image kind: accepted % (the focal length
and orientation from the picture), focal error median/p90, pitch and roll error p90, badly wrong (focal >
20 % or tilt > 3°) among the accepted, refusal reasons, and CPU seconds per image on one core (OpenCV and
BLAS held to one thread). One-point frames (level, straight down an axis; or pitched, square-on to an axis,
with edges that locate fewer than two vanishing points: make_set.py) are listed apart, level and pitched:
the solver should refuse them with the reason (one_point_view) and use the fallback; and "redrawn" views
(edges along two axes, fewer than two vanishing points located: what the set's rule draws again). --jobs
runs images in that many processes (each still one thread; CPU seconds stay per image on one core, but on a
busy machine they grow with the load).
--dump writes one JSON row per image.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync_server.camera_solve import SolveOptions, solve_file  # noqa: E402
from sync_server.camera_solve.orientation import camera_to_scene_angles  # noqa: E402


def _angle_error(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _row(truth: dict, solution) -> dict:
    pitch, roll, _yaw = camera_to_scene_angles(np.array(truth["matrix_world"])[:3, :3])
    return {
        "name": truth["name"],
        "k1_true": truth.get("perturbation", {}).get("k1"),
        "k1": solution.k1,
        "log_focal_sigma": solution.log_focal_sigma,
        "support": solution.support,
        "segments": solution.segments,
        "lines": [vp.lines for vp in solution.vanishing_points],
        "accepted": solution.accepted,
        "refusals": solution.refusals,
        "case": solution.case,
        "focal_error": abs(solution.relative_focal / truth["relative_focal"] - 1.0),
        "pitch_error": _angle_error(solution.pitch_deg, pitch),
        "roll_error": _angle_error(solution.roll_deg, roll),
        "seconds": solution.seconds,
    }


def _summary(label: str, rows: list[dict]) -> str:
    accepted = [r for r in rows if r["accepted"]]
    share = 100.0 * len(accepted) / max(len(rows), 1)
    reasons = Counter(reason for r in rows for reason in r["refusals"])
    seconds = np.array([r["seconds"] for r in rows])
    if accepted:
        focal = 100.0 * np.array([r["focal_error"] for r in accepted])
        pitch = np.array([r["pitch_error"] for r in accepted])
        roll = np.array([r["roll_error"] for r in accepted])
        bad = sum(
            1 for r in accepted if r["focal_error"] > 0.2 or max(r["pitch_error"], r["roll_error"]) > 3.0
        )
        figures = (
            f"{np.median(focal):.2f} / {np.percentile(focal, 90):.2f} % | {np.percentile(pitch, 90):.2f}° | "
            f"{np.percentile(roll, 90):.2f}° | {bad} ({100.0 * bad / len(accepted):.1f} %)"
        )
    else:
        figures = "— | — | — | —"
    refused = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "—"
    return (
        f"| {label} | {len(rows)} | {len(accepted)} ({share:.0f} %) | {figures} | {refused} | "
        f"{np.mean(seconds):.2f} / {seconds.max():.2f} |"
    )


def _solve(job: tuple[str, str, str, str]) -> tuple[str, str, str, dict]:
    set_name, truth_path, variant, picture = job
    cv2.setNumThreads(1)
    truth = json.loads(Path(truth_path).read_text())
    row = _row(truth, solve_file(picture, SolveOptions()))
    if truth.get("one_point"):
        # Sets made before the pitched group have no "group": their one-point frames are the level ones.
        kind = {"pitched one-point": "one-point, pitched", "redrawn": "one-point, redrawn"}.get(
            truth.get("group", ""), "one-point, level"
        )
    else:
        kind = "portrait" if truth["portrait"] else "landscape"
    return set_name, variant, kind, row


def _jobs(sets: list[Path], limit: int) -> list[tuple[str, str, str, str]]:
    jobs = []
    for directory in sets:
        truths = sorted(directory.glob("*.json"))
        if limit:
            truths = truths[:limit]
        for path in truths:
            name = path.stem
            for variant, suffix in (("clean", ".png"), ("perturbed", "_perturbed.jpg")):
                picture = path.with_name(name + suffix)
                if picture.exists():
                    jobs.append((directory.name, str(path), variant, str(picture)))
    return jobs


ORDER = [
    "clean, all general views",
    "clean, landscape",
    "clean, portrait",
    "perturbed, all general views",
    "perturbed, landscape",
    "perturbed, portrait",
    "clean, one-point, level",
    "clean, one-point, pitched",
    "perturbed, one-point, level",
    "perturbed, one-point, pitched",
    "clean, one-point, redrawn",
    "perturbed, one-point, redrawn",
]


def _report(title: str, groups: dict[str, list[dict]]) -> None:
    print(f"\n### {title}\n")
    print(
        "| images | n | accepted | focal error median / p90 | pitch p90 | roll p90 | badly wrong | "
        "refused (reason n) | CPU s/image mean / max |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label in ORDER:
        if label in groups:
            print(_summary(label, groups[label]))
    print()
    for variant in ("clean", "perturbed"):
        refused = [
            r
            for label, rows in groups.items()
            if label.startswith(variant) and "all" not in label
            for r in rows
            if not r["accepted"]
        ]
        if refused:
            pitch = np.array([r["pitch_error"] for r in refused])
            roll = np.array([r["roll_error"] for r in refused])
            print(
                f"{variant}: {len(refused)} refused, each with its reason; their fallback (preset focal "
                f"length, orientation from the lines): pitch error median {np.median(pitch):.2f}° / max "
                f"{pitch.max():.2f}°, roll error median {np.median(roll):.2f}° / max {roll.max():.2f}°"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, nargs="+", default=[ROOT / ".cache" / "camera_set"])
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="processes (each one thread)")
    parser.add_argument("--dump", type=Path, help="write one JSON row per image here")
    parser.add_argument("--verbose", action="store_true", help="one line per image")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    jobs = _jobs(args.set, args.limit)
    if not jobs:
        parser.error(f"no truth JSON in {args.set}: render the set first (scripts/camera_set/make_set.py)")
    load_before = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    started = time.time()
    if args.jobs > 1:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            results = pool.map(_solve, jobs, chunksize=1)
    else:
        results = [_solve(job) for job in jobs]
    per_set: dict[str, dict[str, list[dict]]] = {}
    everything: dict[str, list[dict]] = {}
    dumped = []
    for set_name, variant, kind, row in results:
        for groups in (per_set.setdefault(set_name, {}), everything):
            groups.setdefault(f"{variant}, {kind}", []).append(row)
            if not kind.startswith("one-point"):
                groups.setdefault(f"{variant}, all general views", []).append(row)
        dumped.append({"set": set_name, "variant": variant, "kind": kind, **row})
        if args.verbose:
            print(
                f"{set_name:18s} {variant:9s} {row['name']:14s} acc={row['accepted']!s:5s} "
                f"f={100 * row['focal_error']:6.2f}% p={row['pitch_error']:5.2f} r={row['roll_error']:5.2f} "
                f"{row['refusals']} {row['seconds']:.2f}s sigma={row['log_focal_sigma']} "
                f"support={row['support']:.2f} lines={row['lines']} k1={row['k1']:.4f}/{row['k1_true']}"
            )
    load_after = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(
        f"\n{len(results)} images, {time.time() - started:.0f} s wall, {args.jobs} process(es); "
        f"uptime before: {load_before}; after: {load_after}"
    )
    if args.dump:
        args.dump.write_text(json.dumps(dumped, indent=1))
    for set_name, groups in per_set.items():
        _report(set_name, groups)
    if len(per_set) > 1:
        _report("all sets together", everything)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
