"""Whether this machine can draw Hangul in burnt-in text (fontconfig's BURN_IN_FONT with Korean)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from aipipe_shared.delivery import BURN_IN_FONT


def hangul_font_or_skip() -> None:
    """Skip, saying why, where fontconfig has no font with Hangul for BURN_IN_FONT (fonts-noto-cjk); CI
    installs it (.ci/run), so there its absence fails the test."""
    matcher = shutil.which("fc-match")
    langs = ""
    if matcher:
        found = subprocess.run([matcher, "-f", "%{lang}", BURN_IN_FONT], capture_output=True, text=True)
        langs = found.stdout
    if "ko" not in langs.split("|"):
        reason = f"fontconfig has no font with Hangul for {BURN_IN_FONT!r}: apt-get install -y fonts-noto-cjk"
        if os.environ.get("AIPIPE_REQUIRE_BROWSER"):  # CI installs the font with the browser (.ci/run)
            pytest.fail(reason)
        pytest.skip(reason)
