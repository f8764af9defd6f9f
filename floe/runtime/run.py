"""``floe run``: compile when needed, take the product's run lock, execute, report."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Iterator

from floe import discovery
from floe.diagnostics import FloeError
from floe.observability.runs import record_run
from floe.plugins.manager import PluginRegistry
from floe.runtime.context import RunContext
from floe.runtime.lock import run_lock
from floe.runtime.outcome import RunOutcome, RunRequest

#: Keeps dbt and Dagster from phoning home; set before either is imported.
QUIET_ENVIRONMENT = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DAGSTER_DISABLE_TELEMETRY": "1",
                     "DO_NOT_TRACK": "1"}


def run_product(product_file: Path, request: RunRequest, env: str | None = None,
                platform: str | None = None) -> RunOutcome:
    """Run a product once.

    The artifacts are recompiled first (cheap, and it picks up any change to floe.yaml or the
    platform). Only one run of a product proceeds at a time: a second one is refused.
    """
    from floe.compiler import compile_product

    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    product_dir = discovery.product_dir(product_file)
    with run_lock(product_dir / ".floe"), sigterm_as_interrupt(), fewer_collections():
        compiled = compile_product(product_file, platform=platform, env=env)
        registry = PluginRegistry()
        artifacts = compiled.artifacts
        if artifacts.orchestrator is None:
            raise FloeError("no orchestrator plugin is installed; floe run needs one: "
                            "pip install floe-plugin-orchestrator-dagster")
        context = RunContext(artifacts, product_dir, registry, holds_run_lock=True)
        # Connect before anything is built: a catalog that is unreachable or refuses the
        # credentials fails the run here, before dbt starts, with nothing written.
        context.catalog  # noqa: B018 - the property connects
        orchestrator = context.plugin("orchestrator", artifacts.orchestrator)
        # A missing secret stops the run here, before anything is built. dbt reads its
        # profile's secrets from this process's environment, so the orchestrator sets them
        # (RunContext.dbt_env) only around each dbt call: Python assets never see them.
        context.resolve_dbt_secrets()
        started = time.monotonic()
        try:
            outcome = orchestrator.call("run", config=artifacts.orchestrator.config, context=context,
                                        request=request)
        except Exception as exc:
            # A run that crashed (a full disk under Dagster's storage) is still listed by
            # `floe runs`, as failed, when the log can be written at all.
            record_run(context.state_dir, artifacts.product.name, RunOutcome(
                success=False, run_id=str(uuid.uuid4()), error=f"{type(exc).__name__}: {exc}",
                seconds=time.monotonic() - started))
            raise
        record_run(context.state_dir, artifacts.product.name, outcome)  # for `floe runs`
        return outcome


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the garbage collector's youngest generation every 100,000 allocations, not 700.

    Loading dbt, Dagster and pyiceberg creates millions of objects that live for the whole run;
    at Python's default thresholds the collector re-scans them over and over (about 1 s of a
    run on a 2-core machine, measured by bench/run_overhead.py). Cycles are still collected.
    """
    previous = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so the run unwinds (closing files, releasing the lock)
    instead of dying between a table's data files and its commit."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("terminated")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
