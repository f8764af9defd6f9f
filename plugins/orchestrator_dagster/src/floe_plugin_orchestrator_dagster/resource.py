"""The one Dagster resource floe's assets need: the run's context and what it produced."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator

from floe.observability import NULL_OBSERVER, observe_run

if TYPE_CHECKING:
    from floe.runtime import RunContext, RunRequest, TableResult
    from floe.runtime.publish import Publisher


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
        #: How the run's tables reached the catalog (one commit, or the per-table fallback).
        self.committed_how = ""
        #: The product's prepared dbt projects (``dbt_assets.PreparedDbtProject``), one per transform.
        self.dbt_projects: list[Any] = []
        self._publisher: "Publisher | None" = None

    def publisher(self) -> "Publisher":
        """The run's publisher: every asset stages its tables in it, the run commits them at once.

        Made on first use, under the run lock: what runs killed before left behind is deleted
        first.
        """
        if self._publisher is None:
            from floe.runtime.journal import Journal, sweep
            from floe.runtime.publish import Publisher

            directory = self.context.state_dir / "publish"
            sweep(self.context.catalog, directory)
            self._publisher = Publisher(self.context.catalog, journal=Journal(directory))
        return self._publisher

    def reading_catalog(self) -> Any:
        """The catalog as the run's assets read it: tables staged in this run as they will be."""
        from floe.runtime.publish import StagedView

        return StagedView(self.context.catalog, self.publisher())

    def commit(self) -> None:
        """Commit every table the run staged, in one catalog commit where the catalog can."""
        publisher, self._publisher = self._publisher, None
        if publisher is None:
            return
        results = publisher.commit()
        self.committed_how = publisher.how
        for table in results.values():
            self.published(table)

    def discard(self) -> None:
        """The run failed: delete what it staged; no table changes."""
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.discard()

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """Around each step that writes tables: the product's run lock, and an observer.

        ``floe run`` holds the lock and observes the whole run. A run the Dagster UI launches
        (``floe dev``) has neither, so each of its steps takes the lock (waiting for a ``floe
        run`` in progress) and is observed on its own: traces and lineage as for ``floe run``,
        under the Dagster run's id, one run span per step.
        """
        with self.context.run_step():
            if self.observer is not NULL_OBSERVER or self.context.holds_run_lock:
                yield
                return
            with observe_run(self.context) as observer:
                self.observer = observer
                try:
                    yield
                    # Each step of a UI-launched run is a run of its own: it commits its tables.
                    with failing_as("catalog commit"):
                        self.commit()
                finally:
                    self.discard()
                    self.observer = NULL_OBSERVER

    def progress(self, line: str) -> None:
        """Report one step to whoever started the run."""
        self.request.progress(line)

    def published(self, table: "TableResult") -> None:
        """Record a table the run wrote: for the closing summary, and as a progress line."""
        self.tables.append(table)
        self.progress(f"publish  {table.table:<36} {table.rows} rows, snapshot {table.snapshot_id}")


@contextlib.contextmanager
def failing_as(asset: str) -> Iterator[None]:
    """Turn floe's errors inside the block into a Dagster failure that names ``asset``."""
    from dagster import Failure

    from floe.diagnostics import FloeError

    try:
        yield
    except FloeError as exc:
        raise Failure(description=str(exc), metadata={"failed_asset": asset}) from None
