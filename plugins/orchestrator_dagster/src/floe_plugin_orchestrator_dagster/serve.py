"""``floe dev``: the Dagster UI (webserver and daemon) over the product's definitions."""

from __future__ import annotations

import os
import signal
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
    return _run_stoppable(command, env=env, cwd=context.product_dir)


def _run_stoppable(command: list[str], **options: object) -> int:
    """Run ``command`` until it exits; SIGTERM to this process is passed on to it.

    A shell starts a background job with SIGINT ignored, and Dagster's processes stop on
    SIGTERM by doing whatever SIGINT does: inherited as is, ``floe dev`` and every Dagster
    process under it would ignore SIGTERM. So the child gets SIGINT's default handling back,
    and this process forwards SIGTERM rather than dying and orphaning the servers.
    """
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    process = subprocess.Popen(command, **options)  # type: ignore[call-overload]
    previous_term = signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                continue  # Ctrl-C reached the servers too (one process group); wait for them
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
