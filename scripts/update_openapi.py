"""Regenerate docs/openapi.json, the committed API contract, from the server's code.

tests/api/test_openapi_snapshot.py fails when a running server's /openapi.json differs from the file: run this
after a deliberate API change and commit the diff with it. Usage:
    .venv/bin/python scripts/update_openapi.py [--check]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync_server.app import create_app  # noqa: E402
from sync_server.openapi import render_document  # noqa: E402
from sync_server.settings import Settings  # noqa: E402

DOC = ROOT / "docs" / "openapi.json"


def current_document() -> str:
    """The document a server built from this checkout serves (a throw-away SQLite data folder)."""
    with tempfile.TemporaryDirectory(prefix="aipipe-openapi-") as data_dir:
        settings = Settings(_env_file=None, data_dir=Path(data_dir))  # type: ignore[call-arg]
        return render_document(create_app(settings).openapi())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is out of date")
    args = parser.parse_args()
    text = current_document()
    old = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if args.check:
        if text != old:
            sys.stderr.write(f"{DOC.relative_to(ROOT)} is out of date: run scripts/update_openapi.py\n")
            return 1
        return 0
    if text == old:
        sys.stdout.write(f"{DOC.relative_to(ROOT)} is up to date\n")
        return 0
    tmp = DOC.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(DOC)  # atomic: a reader never sees half a document
    sys.stdout.write(f"wrote {DOC.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
