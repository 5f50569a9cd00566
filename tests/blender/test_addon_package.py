"""The built zip passes Blender's own validator and installs with "Install from Disk" into a clean profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bpy
import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = """
import sys, bpy
bpy.context.preferences.system.use_online_access = True  # as the artist allows it (the wheel starts offline)
install = bpy.ops.extensions.package_install_files
result = install(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
assert result == {"FINISHED"}, result
assert "bl_ext.user_default.aipipeline" in bpy.context.preferences.addons.keys()
assert hasattr(bpy.types.WindowManager, "aipipe") and bpy.ops.aipipe.connect_login.poll()
# the shared core the zip carries is the one the installed add-on uses (not a copy found on sys.path)
assert "bl_ext.user_default.aipipeline.aipipe_shared.naming" in sys.modules, sorted(sys.modules)
import addon_utils
addon_utils.disable("bl_ext.user_default.aipipeline", default_set=True)
assert not hasattr(bpy.types.WindowManager, "aipipe")
addon_utils.enable("bl_ext.user_default.aipipeline", default_set=True, handle_error=None)
assert hasattr(bpy.types.WindowManager, "aipipe")
sys.stdout.write("INSTALLED-AND-REGISTERED\\n")
"""


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "sync_server", "addon", "build", "--output", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.name.startswith("aipipeline-") and path.suffix == ".zip"
    return path


def test_blenders_validator_accepts_the_zip(built_zip: Path) -> None:
    scripts = Path(bpy.utils.system_resource("SCRIPTS"))
    validator = scripts / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    assert validator.is_file(), validator
    done = subprocess.run(
        [sys.executable, str(validator), "validate", str(built_zip)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout


def test_install_from_disk_enables_and_registers(built_zip: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "BLENDER_USER_RESOURCES": str(tmp_path / "blender")}
    done = subprocess.run(
        [sys.executable, "-c", INSTALL, str(built_zip)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
        cwd=tmp_path,
    )
    assert "INSTALLED-AND-REGISTERED" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    installed = tmp_path / "blender" / "extensions" / "user_default" / "aipipeline"
    assert (installed / "blender_manifest.toml").is_file() and (installed / "__init__.py").is_file()
