"""``floe dev``: the Dagster UI (webserver and daemon) over the product's definitions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from floe.runtime import RunContext
from floe.runtime.run import QUIET_ENVIRONMENT
from floe_plugin_orchestrator_dagster.definitions import write_home

#: The code location ``dagster dev`` loads; it only points at the compiled artifacts.
CODE_LOCATION = '''"""Written by `floe dev`: the product's Dagster definitions, from its compiled artifacts."""

from floe_plugin_orchestrator_dagster import FloeDefinitions

defs = FloeDefinitions.from_compiled_artifacts({artifacts!r}, product_dir={product!r})
'''


def serve(config: dict, context: RunContext, host: str, port: int) -> int:
    """Run ``dagster dev`` with the product's Dagster home, so it shows ``floe run``'s history."""
    home = write_home(context, config)
    location = home / "code_location.py"
    location.write_text(CODE_LOCATION.format(
        artifacts=str(context.state_dir / "compiled_artifacts.json"), product=str(context.product_dir)))
    env = {**os.environ, **QUIET_ENVIRONMENT, "DAGSTER_HOME": str(home)}
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-f", str(location), "--host", host, "--port", str(port)]
    return subprocess.call(command, env=env, cwd=context.product_dir)
