"""Print the full tier's line coverage by package and check the core packages (≥ 80 % each).

Run by ./scripts/test after `coverage combine`; reads the data file named in pyproject.toml. The per-file
table is in .coverage-data/coverage.json for whoever wants the detail.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parents[1]
CORE = (
    "aipipe_shared",
    "render_agent",
    "sync_server/auth",
    "sync_server/editorial",
    "sync_server/farm",
    "sync_server/history",
    "sync_server/shotlist",
    "sync_server/shots",
    "sync_server/versions",
)
THRESHOLD = 80.0


def package_of(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def main() -> int:
    cov = coverage.Coverage(config_file=str(ROOT / "pyproject.toml"))
    cov.load()
    report = ROOT / ".coverage-data" / "coverage.json"
    cov.json_report(outfile=str(report))
    files = json.loads(report.read_text())["files"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path, data in files.items():
        relative = Path(path).resolve().relative_to(ROOT).as_posix() if Path(path).is_absolute() else path
        covered, statements = data["summary"]["covered_lines"], data["summary"]["num_statements"]
        for key in (package_of(relative), "TOTAL"):
            totals[key][0] += covered
            totals[key][1] += statements
    failing = []
    print(f"{'package':32} {'lines':>7} {'covered':>8}")
    for key in sorted(k for k in totals if k != "TOTAL") + ["TOTAL"]:
        covered, statements = totals[key]
        percent = 100.0 * covered / statements if statements else 100.0
        mark = ""
        if key in CORE:
            mark = " core"
            if percent < THRESHOLD:
                failing.append(f"{key} {percent:.1f} %")
                mark = f" core: below {THRESHOLD:.0f} %"
        print(f"{key:32} {statements:7d} {percent:7.1f}%{mark}")
    if failing:
        print(f"core packages below {THRESHOLD:.0f} % line coverage: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
