"""The extension's sources and zip follow Blender's extension rules (no Blender needed)."""

from __future__ import annotations

import ast
import sys
import tomllib
import zipfile
from pathlib import Path

from sync_server.cli.addon import build_zip

ROOT = Path(__file__).resolve().parents[2]
BLENDER_MODULES = {"bpy", "bpy_extras", "addon_utils", "mathutils", "gpu", "bmesh", "blf", "bl_math"}
BLENDER_MODULES |= {"gpu_extras", "numpy"}  # numpy: bundled with Blender's Python (and the bpy wheels)


def test_manifest_declares_id_minimum_version_and_permissions() -> None:
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
    assert manifest["id"] == "aipipeline"
    assert manifest["blender_version_min"] == "4.2.0"
    assert set(manifest["permissions"]) == {"network", "files"}
    assert all(reason.strip() for reason in manifest["permissions"].values())
    assert "wheels" not in manifest  # nothing beyond Blender's bundled Python


def test_addon_imports_only_relative_stdlib_or_blender_modules() -> None:
    offenders = []
    for path in sorted((ROOT / "blender_addon").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in BLENDER_MODULES:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert offenders == []


def test_zip_has_the_extension_layout_and_no_caches(tmp_path: Path) -> None:
    (ROOT / "blender_addon" / "__pycache__").mkdir(exist_ok=True)
    zip_path = build_zip(tmp_path)
    version = tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))["version"]
    assert zip_path.name == f"aipipeline-{version}.zip"
    names = zipfile.ZipFile(zip_path).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "shared.py" in names and "playblast/__main__.py" in names
    # the shared core rides along as a sub-package, standard library only (Blender has no pydantic)
    assert "aipipe_shared/naming/template.py" in names and "aipipe_shared/editorial.py" in names
    assert not [n for n in names if n.startswith("aipipe_shared/workflows")]
    with zipfile.ZipFile(zip_path) as archive:
        for name in (n for n in names if n.startswith("aipipe_shared/") and n.endswith(".py")):
            tree = ast.parse(archive.read(name).decode("utf-8"), name)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "level", 0) == 0:
                    top = (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name) or ""
                    assert top.split(".")[0] in sys.stdlib_module_names, f"{name} imports {top}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    first = zip_path.read_bytes()
    assert build_zip(tmp_path).read_bytes() == first  # same sources, same zip
