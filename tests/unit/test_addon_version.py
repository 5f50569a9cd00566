"""One version number: the Blender extension's manifest carries the package's version."""

from __future__ import annotations

import tomllib
from pathlib import Path

from aipipe_shared.version import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_the_extension_and_the_server_carry_the_same_version() -> None:
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
    assert manifest["version"] == __version__
