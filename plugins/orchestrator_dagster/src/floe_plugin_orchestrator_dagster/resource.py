"""The one Dagster resource floe's assets need: the run's context and what it produced."""

from __future__ import annotations

from typing import TYPE_CHECKING

from floe.observability import NULL_OBSERVER

if TYPE_CHECKING:
    from floe.runtime import RunContext, RunRequest, TableResult


class FloeRun:
    """Handed to every floe asset as ``context.resources.floe``.

    Execution is in-process, so assets append what they publish to ``tables`` and the caller
    reads it after the run.
    """

    def __init__(self, context: "RunContext", request: "RunRequest"):
        self.context = context
        self.request = request
        self.tables: list["TableResult"] = []
        #: Traces and lineage of the run (:mod:`floe.observability`); ``floe run`` sets it.
        self.observer = NULL_OBSERVER

    def progress(self, line: str) -> None:
        """Report one step to whoever started the run."""
        self.request.progress(line)
