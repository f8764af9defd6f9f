"""The run observer: the one object an orchestrator integration tells what happens in a run.

An integration calls it at a few points only (the Dagster plugin does exactly this)::

    with observe_run(context) as observer:            # the floe run: span + parent run
        ...
        with observer.python_asset(name, run_id, layer=..., deps=...):   # around a user function
            ...
            observer.table_published(table, schema)     # after each Iceberg commit
        with observer.dbt_build(transform, run_id):      # around a dbt build step
            observer.dbt_finished(results, transform)   # dbt's run results, once
        observer.run_finished(outcome)

Every method is guarded: an error inside observability is reported once as a warning and never
reaches the run. Lineage events and spans of dbt nodes are derived from dbt's own run results
(timings, status, compiled SQL, ``depends_on``), so dbt is not slowed down by callbacks; the
dataset each node writes is the artifacts' publish plan's (``CompiledArtifacts.publish``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import attrs

from floe.observability import lineage as ol
from floe.observability import otel_env
from floe.observability.openlineage_client import job_namespace, lineage_disabled, lineage_sender

if TYPE_CHECKING:
    from floe.artifacts import Observability, ProductInfo, PublishPlan
    from floe.runtime import RunContext, RunOutcome, TableResult

#: Seconds the end of a run waits, at most, for traces and lineage still being delivered.
FLUSH_DEADLINE = 1.5
#: Where lineage events go when the platform names no ``lineage_endpoint``.
EVENTS_FILE = Path("lineage") / "events.jsonl"
#: dbt node kinds that are jobs in the lineage graph (tests are spans only).
LINEAGE_NODES = ("model", "seed", "snapshot")
_FAILED = ("error", "fail", "runtime error")

logger = logging.getLogger("floe.observability")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class NullObserver:
    """What an integration talks to when traces and lineage are both off: does nothing."""

    run_id: str | None = None

    @contextlib.contextmanager
    def python_asset(self, name: str, run_id: str, *, layer: str | None = None,
                     deps: Sequence[str] = ()) -> Iterator[None]:
        """Observe one Python asset: the block runs the user's function and publishes its table."""
        yield

    @contextlib.contextmanager
    def dbt_build(self, transform: str, run_id: str) -> Iterator[None]:
        """Observe one dbt build step (every node it builds, and their publishing)."""
        yield

    def dbt_finished(self, results: Iterable[Any], transform: str) -> None:
        """dbt's run results of the current dbt build step.

        :param results: dbt ``RunResult`` objects (``node``, ``status``, ``timing``, ``message``).
        :param transform: the transform they belong to; its nodes' datasets are the publish
            plan's.
        """

    def table_published(self, table: "TableResult", schema: Any = None) -> None:
        """A table was committed to the catalog (any thread). ``schema``: its Arrow schema."""

    def run_finished(self, outcome: "RunOutcome") -> None:
        """How the run ended."""

    def close(self, error: BaseException | None = None) -> None:
        """End the run's span and events and deliver them (bounded by :data:`FLUSH_DEADLINE`)."""


NULL_OBSERVER = NullObserver()


@attrs.define
class _Asset:
    name: str
    kind: str
    span: Any
    run_id: str
    job: str
    inputs: list[dict]
    started: dt.datetime
    nodes: list["_Node"] = attrs.Factory(list)


@attrs.define
class _Node:
    unique_id: str
    name: str
    resource_type: str
    status: str
    materialized: str | None
    dataset: str
    inputs: list[str]
    timing: list[tuple[str, dt.datetime, dt.datetime]]
    message: str | None
    sql: str | None
    columns: list[dict[str, str]]


class RunObserver(NullObserver):
    """Traces and lineage of one run (see the module docstring for the calls it expects).

    :param settings: the artifacts' observability section.
    :param catalog_namespace: the datasets' namespace (:func:`~.lineage.catalog_namespace`).
    :param plan: the artifacts' publish plan: the dataset (``<layer>.<table>``) of every node.
    :param state_dir: the product's ``.floe/`` (lineage goes to a file there by default).
    :param span_exporters: extra span exporters (tests pass an in-memory one).
    :param lineage_sink: a list that receives every event as well (tests).
    :param warn: how warnings reach the user (default: the ``floe.observability`` logger).
    :param secret: resolves secret refs of platform.yaml's ``lineage_transport``.
    """

    def __init__(self, settings: "Observability", *, product: "ProductInfo", catalog_namespace: str,
                 plan: "PublishPlan | None" = None, state_dir: Path | None = None,
                 span_exporters: Sequence[Any] = (), lineage_sink: list | None = None,
                 warn: Callable[[str], None] | None = None, secret: Callable[[Any], Any] | None = None):
        self.product = product
        self.catalog_namespace = catalog_namespace
        self.job_namespace = job_namespace(settings, product.name)
        self.run_id: str | None = None
        self._warn = warn or logger.warning
        self._warned_internal = False
        self._lock = threading.Lock()
        self._plan = plan
        self._datasets = {node.name: node.dataset for node in (plan.nodes if plan else ())
                          if node.kind != "source"}
        self._tables: dict[str, tuple["TableResult", list[dict[str, str]]]] = {}
        self._steps: list[_Asset] = []
        self._outcome: "RunOutcome | None" = None
        self._closed = False
        self._notes: list[str] = []
        self.started = _now()
        self.tracing = self._tracing(settings, span_exporters)
        self._senders: list[Any] = []
        self._lineage_sink = lineage_sink
        self.lineage = settings.lineage and not lineage_disabled()
        if self.lineage:
            # Started now: openlineage-python's import overlaps the start of the run.
            sender = lineage_sender(settings, state_dir / EVENTS_FILE if state_dir is not None else None,
                                    secret)
            if sender is not None:
                self._senders.append(sender)
        self._run_span = self._start_span(f"floe run {product.name}", None, {
            "floe.product": product.name, "floe.product.version": product.version})

    # -- set-up -------------------------------------------------------------------------------

    def _tracing(self, settings: "Observability", exporters: Sequence[Any]) -> Any:
        if not settings.traces or otel_env.sdk_disabled():
            return None
        target = otel_env.trace_target(settings)
        if target is None and not exporters:
            return None  # nowhere to send spans: do not pay for making them
        from floe.observability.tracing import Tracing

        sender = None
        if target is not None and target.problem:
            self._notes.append(target.problem)
        elif target is not None:
            from floe.observability.sender import HttpSender

            sender = HttpSender(target.url, "traces", content_type="application/x-protobuf",
                                headers=target.headers)
        if sender is None and not exporters:
            return None
        return Tracing(otel_env.resource_attributes(self.product, settings), sender, exporters)

    # -- the integration's calls ----------------------------------------------------------------

    @contextlib.contextmanager
    def python_asset(self, name: str, run_id: str, *, layer: str | None = None,
                     deps: Sequence[str] = ()) -> Iterator[None]:
        step = self._guard(self._asset_started, name, "python", run_id, layer, deps, f"asset {name}")
        try:
            yield
        except BaseException as exc:
            self._guard(self._python_finished, step, exc)
            raise
        self._guard(self._python_finished, step, None)

    @contextlib.contextmanager
    def dbt_build(self, transform: str, run_id: str) -> Iterator[None]:
        step = self._guard(self._asset_started, f"dbt_{transform}", "dbt", run_id, None, (),
                           f"dbt build {transform}")
        if step is not None:
            self._steps.append(step)
        try:
            yield
        except BaseException as exc:
            self._guard(self._dbt_step_finished, step, exc)
            raise
        self._guard(self._dbt_step_finished, step, None)

    def dbt_finished(self, results: Iterable[Any], transform: str) -> None:
        self._guard(self._dbt_results, results, transform)

    def table_published(self, table: "TableResult", schema: Any = None) -> None:
        def record() -> None:
            fields = ol.schema_fields(schema) if schema is not None else []
            with self._lock:
                self._tables[table.asset] = (table, fields)
                self._datasets[table.asset] = table.table

        self._guard(record)

    def run_finished(self, outcome: "RunOutcome") -> None:
        self._outcome = outcome

    def close(self, error: BaseException | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        self._guard(self._finish_run, error)
        deadline = time.monotonic() + FLUSH_DEADLINE
        senders = list(self._senders)
        if self.tracing is not None:
            self._guard(self.tracing.close, deadline)  # closes its own sender
            if self.tracing.sender is not None:
                senders.insert(0, self.tracing.sender)
        # Every sender has been delivering on its own thread all along; one shared deadline.
        for sender in self._senders:
            self._guard(sender.close, deadline)
        for note in self._notes:
            self._warn(note)
        for sender in senders:
            warning = self._guard(sender.warning)
            if warning:
                self._warn(warning)

    # -- the run --------------------------------------------------------------------------------

    def _adopt(self, run_id: str | None) -> None:
        """The floe run's id is the orchestrator's; its START event waits until it is known."""
        if self.run_id is not None:
            return
        try:
            self.run_id = str(uuid.UUID(str(run_id)))
        except ValueError:
            self.run_id = str(uuid.uuid4())
        if self._run_span is not None:
            self._run_span.set_attribute("floe.run_id", self.run_id)
        self._emit(ol.run_event("START", run_id=self.run_id, namespace=self.job_namespace,
                                job=self.product.name, when=self.started, job_type=("FLOE", "JOB")))

    def _finish_run(self, error: BaseException | None) -> None:
        outcome = self._outcome
        self._adopt(outcome.run_id if outcome is not None else None)
        ok = error is None and (outcome is None or outcome.success)
        message = None
        if error is not None:
            message = _message(error)
        elif not ok:
            message = outcome.error or "the run failed"
            if outcome.failed_asset:
                message = f"{outcome.failed_asset}: {message}"
        if self._run_span is not None:
            self.tracing.end(self._run_span, ok=ok, error=error or message, attributes={
                "floe.status": "success" if ok else "failed",
                "floe.tables": len(outcome.tables) if outcome is not None else 0,
                "floe.failed_asset": outcome.failed_asset if outcome is not None else None})
        self._emit(ol.run_event("COMPLETE" if ok else "FAIL", run_id=self.run_id,
                                namespace=self.job_namespace, job=self.product.name, when=_now(),
                                job_type=("FLOE", "JOB"), error=message))

    # -- assets ---------------------------------------------------------------------------------

    def _asset_started(self, name: str, kind: str, run_id: str, layer: str | None,
                       deps: Sequence[str], span_name: str) -> _Asset:
        self._adopt(run_id)
        if layer is not None:
            with self._lock:
                self._datasets.setdefault(name, f"{layer}.{name}")
        attributes = {"floe.asset.key": name, "floe.asset.kind": kind, "floe.layer": layer,
                      "floe.run_id": self.run_id}
        span = self._start_span(span_name, self._run_span, attributes)
        step = _Asset(name=name, kind=kind, span=span, run_id=str(uuid.uuid4()),
                      job=f"{self.product.name}.{name}", inputs=[self._dataset(d) for d in deps],
                      started=_now())
        if kind == "python":
            self._emit(ol.run_event("START", run_id=step.run_id, namespace=self.job_namespace,
                                    job=step.job, when=step.started, parent=self._parent(),
                                    job_type=("FLOE", "ASSET"), inputs=step.inputs))
        return step

    def _python_finished(self, step: _Asset | None, error: BaseException | None) -> None:
        if step is None:
            return
        published = self._tables.get(step.name)
        ok = error is None
        attributes: dict[str, Any] = {"floe.status": "success" if ok else "failed"}
        outputs = []
        if published is not None:
            table, fields = published
            attributes.update({"floe.table": table.table, "floe.rows": table.rows,
                               "floe.snapshot_id": str(table.snapshot_id)})
            outputs.append(ol.dataset(self.catalog_namespace, table.table, fields=fields,
                                      rows=table.rows, version=str(table.snapshot_id)))
        if step.span is not None:
            self.tracing.end(step.span, ok=ok, error=error, attributes=attributes)
        self._emit(ol.run_event("COMPLETE" if ok else "FAIL", run_id=step.run_id,
                                namespace=self.job_namespace, job=step.job, when=_now(),
                                parent=self._parent(), job_type=("FLOE", "ASSET"),
                                error=_message(error), inputs=step.inputs, outputs=outputs))

    # -- dbt ------------------------------------------------------------------------------------

    def _dbt_results(self, results: Iterable[Any], transform: str) -> None:
        step = self._steps[-1] if self._steps else None
        if step is None:
            return
        planned = self._plan.of_transform(transform) if self._plan else {}

        def dataset_of(unique_id: str) -> str:
            node = planned.get(unique_id)
            # A test is a span only: its "dataset" names nothing that lineage emits.
            return node.dataset if node is not None else unique_id

        for item in results:
            node = item.node
            resource_type = str(getattr(node.resource_type, "value", node.resource_type))
            depends = getattr(getattr(node, "depends_on", None), "nodes", None) or []
            timing = [(t.name, t.started_at, t.completed_at) for t in (getattr(item, "timing", None) or [])
                      if t.started_at is not None and t.completed_at is not None]
            columns = [{"name": name, "type": column.data_type}
                       for name, column in (getattr(node, "columns", None) or {}).items()
                       if getattr(column, "data_type", None)]
            record = _Node(unique_id=node.unique_id, name=node.name, resource_type=resource_type,
                           status=str(getattr(item.status, "value", item.status)),
                           materialized=getattr(getattr(node, "config", None), "materialized", None),
                           dataset=dataset_of(node.unique_id),
                           inputs=[dataset_of(uid) for uid in depends],
                           timing=timing, message=getattr(item, "message", None),
                           sql=getattr(node, "compiled_code", None) or getattr(node, "raw_code", None),
                           columns=columns)
            step.nodes.append(record)
            if resource_type in LINEAGE_NODES:
                with self._lock:
                    self._datasets[node.name] = record.dataset

    def _dbt_step_finished(self, step: _Asset | None, error: BaseException | None) -> None:
        if step is None:
            return
        if self._steps and self._steps[-1] is step:
            self._steps.pop()
        failed_asset = _failed_asset(error)
        for node in step.nodes:
            self._dbt_node(step, node, failed_asset, error)
        if step.span is not None:
            self.tracing.end(step.span, ok=error is None, error=error, attributes={
                "floe.status": "success" if error is None else "failed",
                "dbt.nodes": len(step.nodes),
                "floe.tables": sum(1 for n in step.nodes if n.name in self._tables)})

    def _dbt_node(self, step: _Asset, node: _Node, failed_asset: str | None,
                  error: BaseException | None) -> None:
        published = self._tables.get(node.name)
        failed = node.status in _FAILED or node.name == failed_asset
        message = node.message if node.status in _FAILED else (_message(error) if failed else None)
        start = node.timing[0][1] if node.timing else step.started
        end = node.timing[-1][2] if node.timing else _now()
        attributes: dict[str, Any] = {
            "floe.asset.key": node.name, "dbt.unique_id": node.unique_id,
            "dbt.resource_type": node.resource_type, "dbt.materialized": node.materialized,
            "dbt.status": node.status, "floe.status": "failed" if failed else node.status}
        fields, rows, version = node.columns, None, None
        if published is not None:
            table, published_fields = published
            fields, rows, version = published_fields or fields, table.rows, str(table.snapshot_id)
            attributes.update({"floe.table": table.table, "floe.rows": table.rows,
                               "floe.snapshot_id": version})
        if step.span is not None:
            span = self.tracing.start(f"dbt {node.resource_type} {node.name}", parent=step.span,
                                      start=start)
            for phase, began, ended in node.timing:
                self.tracing.end(self.tracing.start(f"dbt {phase}", parent=span, start=began,
                                                    attributes={"dbt.unique_id": node.unique_id}),
                                 ok=not failed, end=ended)
            self.tracing.end(span, ok=not failed, error=message, attributes=attributes, end=end)
        if node.resource_type not in LINEAGE_NODES or node.status == "skipped":
            return
        run_id = str(uuid.uuid4())
        job = f"{self.product.name}.{node.name}"
        inputs = [ol.dataset(self.catalog_namespace, name) for name in node.inputs]
        common = dict(run_id=run_id, namespace=self.job_namespace, job=job, parent=self._parent(),
                      job_type=("DBT", node.resource_type.upper()),
                      sql=node.sql if node.resource_type == "model" else None, inputs=inputs)
        self._emit(ol.run_event("START", when=start, **common))
        output = ol.dataset(self.catalog_namespace, node.dataset, fields=fields, rows=rows, version=version)
        self._emit(ol.run_event("FAIL" if failed else "COMPLETE", when=end, error=message,
                                outputs=[output], **common))

    # -- helpers --------------------------------------------------------------------------------

    def _parent(self) -> dict[str, str]:
        return {"run_id": self.run_id or "", "namespace": self.job_namespace, "job": self.product.name}

    def _dataset(self, asset: str) -> dict:
        with self._lock:
            name = self._datasets.get(asset, asset)
        return ol.dataset(self.catalog_namespace, name)

    def _start_span(self, name: str, parent: Any, attributes: Mapping[str, Any]) -> Any:
        if self.tracing is None:
            return None
        return self.tracing.start(name, parent=parent, attributes=attributes)

    def _emit(self, event: dict) -> None:
        if not self.lineage:
            return
        event = _scrubbed(event)
        if self._lineage_sink is not None:
            self._lineage_sink.append(event)
        for sender in self._senders:
            sender.send(event)

    def _guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn``; an error in observability becomes one warning, never the run's failure."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - observability must never break a pipeline
            logger.debug("observability error in %s", getattr(fn, "__name__", fn), exc_info=True)
            if not self._warned_internal:
                self._warned_internal = True
                self._warn(f"observability: internal error ({type(exc).__name__}: {exc}); this run's "
                           "traces and lineage may be incomplete. The run itself is not affected.")
            return None


def _scrubbed(event: dict) -> dict:
    """``event`` with every secret value floe resolved masked (an error message may quote one)."""
    from floe.runtime.scrub import active, contains_secret, scrub

    if not active():  # no secret resolved in this process: nothing to look for
        return event
    text = json.dumps(event, sort_keys=True, default=str)
    return json.loads(scrub(text)) if contains_secret(text) else event


def _message(error: BaseException | None) -> str | None:
    if error is None:
        return None
    # Dagster's Failure carries floe's message as its description.
    return getattr(error, "description", None) or str(error) or type(error).__name__


def _failed_asset(error: BaseException | None) -> str | None:
    metadata = getattr(error, "metadata", None) or {}
    value = metadata.get("failed_asset") if isinstance(metadata, Mapping) else None
    value = getattr(value, "value", value)
    return value if isinstance(value, str) and value else None


@contextlib.contextmanager
def observe_run(context: "RunContext", **options: Any) -> Iterator[NullObserver]:
    """The observer of one run of ``context``'s product; closed (and flushed) when the block ends.

    Yields :data:`NULL_OBSERVER` when the product turned traces and lineage off, or when the
    observer could not be set up (with one warning). ``options`` go to :class:`RunObserver`.
    """
    observer = _create(context, options)
    try:
        yield observer
    except BaseException as exc:
        observer.close(exc)
        raise
    observer.close()


def _create(context: "RunContext", options: dict) -> NullObserver:
    artifacts = context.artifacts
    settings = artifacts.observability
    if not (settings.traces or settings.lineage):
        return NULL_OBSERVER
    try:
        return RunObserver(settings, product=artifacts.product,
                           catalog_namespace=ol.catalog_namespace(artifacts.profiles.catalog),
                           plan=artifacts.publish, state_dir=context.state_dir,
                           secret=getattr(context, "secret", None), **options)
    except Exception as exc:  # noqa: BLE001 - observability must never break a pipeline
        logger.debug("observability set-up failed", exc_info=True)
        (options.get("warn") or logger.warning)(
            f"observability: could not be set up ({type(exc).__name__}: {exc}); this run has no "
            "traces or lineage. The run itself is not affected.")
        return NULL_OBSERVER
