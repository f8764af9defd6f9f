# Sourced by scripts/demo and scripts/test: a project-local .venv with the locked dependencies,
# floe and every in-tree plugin installed for real (not editable), so entry points are exercised
# exactly as after `pip install floe-plugin-*`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FLOE_VENV:-$ROOT/.venv}"
export DBT_SEND_ANONYMOUS_USAGE_STATS=False DAGSTER_DISABLE_TELEMETRY=1
if [ ! -x "$VENV/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements.lock"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
  "$ROOT" "$ROOT"/plugins/*/
