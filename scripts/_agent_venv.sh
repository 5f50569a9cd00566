# Sourced by scripts/test: .venv-agent holds only the render agent's extra plus the test runner and what
# the ComfyUI stand-in needs (`agent-test`), as on a GPU host: the agent-host tier runs there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AGENT_VENV="$ROOT/.venv-agent"
if [ ! -x "$AGENT_VENV/bin/python" ]; then
  "${PYTHON_BIN:-python3}" -m venv "$AGENT_VENV"
fi
agent_stamp="$AGENT_VENV/.aipipe-installed"
if [ ! -f "$agent_stamp" ] || [ "$ROOT/pyproject.toml" -nt "$agent_stamp" ]; then
  "$AGENT_VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
  "$AGENT_VENV/bin/python" -m pip install --quiet -e "$ROOT[agent-test]"
  printf 'agent-test' > "$agent_stamp"
fi
