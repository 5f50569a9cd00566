"""Camera solve from one picture (issue 15): the solver over the Blender-made set, clean and perturbed.

    .venv-blender-5.0/bin/python scripts/camera_set/make_set.py          # once: renders .cache/camera_set
    .venv/bin/python scripts/bench_camera_solve.py [--set .cache/camera_set] [--limit N]

Prints, per image kind: accepted % (the focal length and orientation from the picture), focal error
median/p90, pitch and roll error p90, badly wrong (focal > 20 % or tilt > 3°) among the accepted, refusal
reasons, and CPU seconds per image on one core (OpenCV and BLAS held to one thread). One-point frames (level,
straight down an axis) are listed apart: the solver should refuse them with the reason and use the fallback.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=ROOT / ".cache" / "camera_set")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="one line per image")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    truths = sorted(args.set.glob("*.json"))
    if args.limit:
        truths = truths[: args.limit]
    if not truths:
        parser.error(f"no truth JSON in {args.set}: render the set first (scripts/camera_set/make_set.py)")
    groups: dict[str, list[dict]] = {}
    started = time.time()
    for path in truths:
        truth = json.loads(path.read_text())
        for variant, suffix in (("clean", ".png"), ("perturbed", "_perturbed.jpg")):
            picture = path.with_name(truth["name"] + suffix)
            if not picture.exists():
                continue
            solution = solve_file(str(picture), SolveOptions())
            row = _row(truth, solution)
            kind = (
                "one-point" if truth.get("one_point") else ("portrait" if truth["portrait"] else "landscape")
            )
            groups.setdefault(f"{variant}, {kind}", []).append(row)
            groups.setdefault(f"{variant}, all general views", []).append(
                row
            ) if kind != "one-point" else None
            if args.verbose:
                print(
                    f"{variant:9s} {truth['name']:14s} acc={row['accepted']!s:5s} "
                    f"f={100 * row['focal_error']:6.2f}% "
                    f"p={row['pitch_error']:5.2f} r={row['roll_error']:5.2f} {row['refusals']} "
                    f"{row['seconds']:.2f}s "
                    f"sigma={solution.log_focal_sigma} support={solution.support:.2f}",
                    flush=True,
                )
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"\n{len(truths)} frames, {time.time() - started:.0f} s wall; uptime: {load}\n")
    print(
        "| images | n | accepted | focal error median / p90 | pitch p90 | roll p90 | badly wrong | "
        "refused (reason n) | CPU s/image mean / max |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    order = [
        "clean, all general views",
        "clean, landscape",
        "clean, portrait",
        "perturbed, all general views",
        "perturbed, landscape",
        "perturbed, portrait",
        "clean, one-point",
        "perturbed, one-point",
    ]
    for label in order:
        if label in groups:
            print(_summary(label, groups[label]))
    print()
    for variant in ("clean", "perturbed"):
        refused = [
            r
            for label, rows in groups.items()
            if label.startswith(variant) and "all" not in label
            for r in rows
        ]
        refused = [r for r in refused if not r["accepted"]]
        if refused:
            pitch = np.array([r["pitch_error"] for r in refused])
            roll = np.array([r["roll_error"] for r in refused])
            print(
                f"{variant}: {len(refused)} refused, each with its reason; their fallback (preset focal "
                f"length, orientation from the lines): pitch error median {np.median(pitch):.2f}° / max "
                f"{pitch.max():.2f}°, roll error median {np.median(roll):.2f}° / max {roll.max():.2f}°"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
