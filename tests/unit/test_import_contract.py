"""The import rule of STYLE.md, checked by import-linter with the contracts in pyproject.toml: the shared core
imports no part of ours, the agent and the add-on never import the server, the server never imports bpy code,
nothing imports the agent."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_tree_keeps_every_import_contract() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in done.stdout


def test_a_forbidden_import_breaks_the_contract(tmp_path: Path) -> None:
    # The same contracts on a tiny tree where the agent imports the server: the checker must say so.
    for package, body in {
        "aipipe_shared": "",
        "sync_server": "",
        "blender_addon": "",
        "render_agent": "from sync_server import app\n",
    }.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body)
    for module in ("app", "crud", "context", "deps"):
        (tmp_path / "sync_server" / f"{module}.py").write_text("")
    (tmp_path / "sync_server" / "db").mkdir()
    (tmp_path / "sync_server" / "db" / "__init__.py").write_text("")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "the render agent imports only aipipe_shared of ours BROKEN" in done.stdout
    assert "render_agent -> sync_server" in done.stdout
