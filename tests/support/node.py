"""Run a page's JavaScript modules in Node.js (the web pages' pure functions, tested without a browser)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

WEB_JS = Path(__file__).resolve().parents[2] / "sync_server" / "web" / "static" / "js"


def run_module_script(
    tmp_path: Path, script: str, modules: dict[str, str] | None = None, timeout_s: float = 60.0
) -> Any:
    """The JSON value of the last line the ES-module `script` prints, run by Node in tmp_path with the
    page's modules copied beside it (modules: {file name in static/js: name to copy it as}; by default
    review_media.js and api.js). Skips the test where Node.js is not installed."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    for source, target in (modules or {"review_media.js": "review_media.js", "api.js": "api.js"}).items():
        shutil.copyfile(WEB_JS / source, tmp_path / target)
    (tmp_path / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    (tmp_path / "harness.mjs").write_text(script, encoding="utf-8")
    done = subprocess.run(
        [node, "harness.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
