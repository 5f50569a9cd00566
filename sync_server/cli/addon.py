"""`aipipe addon build`: the Blender extension as `dist/aipipeline-<version>.zip` for Install from Disk.

The zip holds `blender_manifest.toml` and the contents of `blender_addon/` at its root (Blender's
extension layout), plus the parts of `aipipe_shared/` the add-on uses, as a sub-package of the extension
(the add-on finds it there through `blender_addon/shared.py`); caches and compiled files are left out.
Entries are written in a fixed order with a fixed date, so the same sources give the same zip.
"""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path
from typing import Annotated

import typer

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "blender_manifest.toml"
SOURCE = "blender_addon"
SHARED = "aipipe_shared"
# What the add-on takes of the shared core: standard library only (Blender has no pydantic).
SHARED_FOR_ADDON = ("__init__.py", "editorial.py", "fspy.py", "naming")
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", ".swp")
FIXED_DATE = (2024, 1, 1, 0, 0, 0)

addon_app = typer.Typer(help="The Blender extension.", no_args_is_help=True)


def manifest_version(root: Path = ROOT) -> str:
    data = tomllib.loads((root / MANIFEST).read_text(encoding="utf-8"))
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise ValueError(f"{root / MANIFEST}: 'version' is missing")
    return version


def extension_files(root: Path = ROOT) -> list[tuple[Path, str]]:
    """(file on disk, name in the zip) for every file the extension ships."""
    files = [(root / MANIFEST, MANIFEST)]
    shared = [root / SHARED / name for name in SHARED_FOR_ADDON]
    for source, prefix, paths in (
        (root / SOURCE, "", sorted((root / SOURCE).rglob("*"))),
        (root / SHARED, f"{SHARED}/", [p for top in shared for p in [top, *sorted(top.rglob("*"))]]),
    ):
        for path in paths:
            relative = path.relative_to(source)
            if not path.is_file() or SKIP_DIRS & set(relative.parts) or path.name.endswith(SKIP_SUFFIXES):
                continue
            files.append((path, prefix + relative.as_posix()))
    return files


def build_zip(output_dir: Path, root: Path = ROOT) -> Path:
    """Write `<output_dir>/aipipeline-<version>.zip` atomically and return its path."""
    target = output_dir / f"aipipeline-{manifest_version(root)}.zip"
    output_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in extension_files(root):
            info = zipfile.ZipInfo(name, FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    partial.replace(target)
    return target


@addon_app.command("build")
def build(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the zip.")] = Path("dist"),
) -> None:
    """Package the extension as dist/aipipeline-<version>.zip."""
    try:
        target = build_zip(output)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(str(target))
