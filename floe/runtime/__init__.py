"""Run time: executing CompiledArtifacts for real.

Nothing here is imported by ``floe validate`` or ``floe compile``. The orchestrator plugin
drives a run; this package gives it the run's context (artifacts, product directory, secrets,
the catalog), publishes tables to Iceberg, and defines what a run reports back.
"""

from floe.runtime.context import RunContext
from floe.runtime.outcome import RunOutcome, RunRequest, TableResult

__all__ = ["RunContext", "RunOutcome", "RunRequest", "TableResult"]
