# Sourced by scripts/test: one virtual environment per supported Blender, each with the `bpy` wheel for
# that release and the project installed, at .venv-blender-<version>. The bpy wheels exist for Python 3.11
# only, so these need python3.11 (nothing else: no Blender install, no root).
# AIPIPE_BLENDER_VERSIONS picks the releases (default "4.2 4.5 5.0"; empty: no Blender tests).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BLENDER_VERSIONS="${AIPIPE_BLENDER_VERSIONS-4.2 4.5 5.0}"
BLENDER_PYTHON="${AIPIPE_BLENDER_PYTHON:-python3.11}"
BLENDER_VENVS=()
if [ -n "$BLENDER_VERSIONS" ] && ! command -v "$BLENDER_PYTHON" >/dev/null 2>&1; then
  echo "Blender tests need $BLENDER_PYTHON (the bpy wheels are built for Python 3.11 only)." >&2
  exit 1
fi
for version in $BLENDER_VERSIONS; do
  venv="$ROOT/.venv-blender-$version"
  if [ ! -x "$venv/bin/python" ]; then
    "$BLENDER_PYTHON" -m venv "$venv"
  fi
  stamp="$venv/.aipipe-installed"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null
    "$venv/bin/python" -m pip install --quiet "bpy==$version.*" -e "$ROOT[dev]"
    printf '%s' "$version" > "$stamp"
  fi
  BLENDER_VENVS+=("$venv")
done
