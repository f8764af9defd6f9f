"""Lineage through openlineage-python: its event model, its client and its transports.

Where events go, first match wins:

1. ``OPENLINEAGE_DISABLED=true``: nowhere (the operator's switch, as for every OpenLineage
   integration);
2. platform.yaml's ``observability.lineage_transport`` (any openlineage-python transport
   config: ``http``, ``file``, ``console``, ``composite``, ``kafka`` with
   ``openlineage-python[kafka]`` installed, ...; secrets as ``{secret_ref: ...}``) or
   ``lineage_endpoint`` (posted to Marquez's ``/api/v1/lineage`` by floe's own
   :class:`~floe.observability.sender.HttpSender`, no client needed): platform.yaml wins over
   the environment;
3. OpenLineage's own configuration, exactly as its client reads it: ``$OPENLINEAGE_CONFIG``,
   ``openlineage.yml`` in the working directory or ``~/.openlineage/``, ``OPENLINEAGE__*``
   variables, or ``$OPENLINEAGE_URL`` (with ``$OPENLINEAGE_API_KEY``, ``$OPENLINEAGE_ENDPOINT``);
4. otherwise floe's own file, ``.floe/lineage/events.jsonl`` (see
   :class:`~floe.observability.sender.FileSender`; no openlineage-python needed).

The job namespace is platform.yaml's ``lineage_namespace``, else ``$OPENLINEAGE_NAMESPACE``,
else the product's name.

Importing openlineage-python takes 0.5-1 s (it loads two HTTP stacks), so it never happens on
the run's path: :class:`OpenLineageSender` starts its thread when the run starts, the thread
imports the client and builds the transport while the run gets going, then turns each event
(a JSON-ready dict from :mod:`floe.observability.lineage`) into an ``event_v2.RunEvent`` and
emits it. Like :class:`~floe.observability.sender.HttpSender`, the first failure stops further
attempts and :meth:`close` waits no longer than the run's deadline.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from floe.observability.sender import REQUEST_TIMEOUT, HttpSender, QueuedSender, endpoint_url

LINEAGE_PATH = "/api/v1/lineage"
#: Seconds the end of a run waits, at most, for openlineage-python to be imported and its
#: transport built, before the delivery deadline starts.
CLIENT_IMPORT_SECONDS = 10.0


def lineage_disabled(environ: Mapping[str, str] = os.environ) -> bool:
    """``OPENLINEAGE_DISABLED=true``."""
    return (environ.get("OPENLINEAGE_DISABLED") or "").strip().lower() == "true"


def job_namespace(settings: Any, product_name: str, environ: Mapping[str, str] = os.environ) -> str:
    """platform.yaml's ``lineage_namespace``, else ``$OPENLINEAGE_NAMESPACE``, else the product."""
    return settings.lineage_namespace or (environ.get("OPENLINEAGE_NAMESPACE") or "").strip() or product_name


def environment_config(environ: Mapping[str, str] = os.environ, cwd: Path | None = None) -> str | None:
    """Where OpenLineage's own configuration of this process comes from, or None when it has
    none; cheap (no import of openlineage-python)."""
    if (environ.get("OPENLINEAGE_CONFIG") or "").strip():
        return f"$OPENLINEAGE_CONFIG ({environ['OPENLINEAGE_CONFIG'].strip()})"
    for path in ((cwd or Path.cwd()) / "openlineage.yml", Path("~/.openlineage/openlineage.yml").expanduser()):
        if path.is_file():
            return str(path)
    if any(name.startswith("OPENLINEAGE__TRANSPORT") for name in environ):
        return "$OPENLINEAGE__TRANSPORT__*"
    if (environ.get("OPENLINEAGE_URL") or "").strip():
        return "$OPENLINEAGE_URL"
    return None


def platform_transport(settings: Any) -> tuple[dict, str] | None:
    """platform.yaml's ``lineage_transport`` config, and what to call it in a warning."""
    transport = getattr(settings, "lineage_transport", None)
    if transport:
        return dict(transport), f"the {transport.get('type')} transport of platform.yaml"
    return None


def resolve_secrets(value: Any, secret: Callable[[Any], Any] | None) -> Any:
    """A copy of a transport config with each ``{secret_ref: ...}`` replaced by its value."""
    if isinstance(value, dict):
        if "secret_ref" in value and set(value) <= {"secret_ref", "key"}:
            if secret is None:
                raise LookupError(f"secret '{value['secret_ref']}' cannot be resolved here")
            return secret(value).reveal()
        return {k: resolve_secrets(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(v, secret) for v in value]
    return value


class OpenLineageSender(QueuedSender):
    """Emits events through openlineage-python's client on a background thread.

    :param target: what the warning calls the destination (a URL, or ``$OPENLINEAGE_URL``...).
    :param transport: a transport config (platform.yaml's), or None to let the client read
        the environment and ``openlineage.yml`` itself.
    :param secret: resolves ``{secret_ref: ...}`` in ``transport`` (``RunContext.secret``).
    """

    def __init__(self, target: str, transport: dict | None = None,
                 secret: Callable[[Any], Any] | None = None, what: str = "lineage events"):
        self._transport = copy.deepcopy(transport)
        self._secret = secret
        self._client_instance: Any = None
        self._ready = threading.Event()
        super().__init__(target, what, REQUEST_TIMEOUT, thread_name="floe-openlineage")

    def close(self, deadline: float) -> None:
        """As :meth:`QueuedSender.close`, but the client's import does not count against the
        deadline: a run shorter than the import (0.5-1 s, longer on a loaded machine) would
        otherwise lose its lineage to a slow import, not to a slow endpoint."""
        started = time.monotonic()
        self._ready.wait(CLIENT_IMPORT_SECONDS)
        super().close(deadline + (time.monotonic() - started))

    def _start(self) -> None:
        try:
            self._client_instance = self._client()
        finally:
            self._ready.set()

    def _deliver(self, event: dict) -> None:
        self._client_instance.emit(to_openlineage(event))

    def _stop(self) -> None:
        if self._client_instance is not None:
            try:
                self._client_instance.close(0.5)
            except Exception:  # noqa: BLE001, S110 - closing a transport is best effort
                pass

    def _reason(self, exc: Exception) -> str:
        return _reason(exc)

    def _client(self) -> Any:
        from openlineage.client import OpenLineageClient
        from openlineage.client.transport import get_default_factory

        # The client copies OPENLINEAGE_URL / _API_KEY into OPENLINEAGE__TRANSPORT__* variables of
        # this process while it reads its configuration; they are taken back out, so that nothing
        # floe starts later (dbt, user code, the next run in this process) sees a second copy.
        before = {k for k in os.environ if k.startswith("OPENLINEAGE__")}
        try:
            if self._transport is None:
                return OpenLineageClient()
            config = resolve_secrets(self._transport, self._secret)
            if config.get("type") == "kafka":
                _require_kafka()
            return OpenLineageClient(transport=get_default_factory().create(config))
        finally:
            for name in [k for k in os.environ if k.startswith("OPENLINEAGE__") and k not in before]:
                os.environ.pop(name, None)


def _require_kafka() -> None:
    import importlib.util

    if importlib.util.find_spec("confluent_kafka") is None:
        raise ImportError("the kafka transport needs confluent-kafka: "
                          "pip install 'openlineage-python[kafka]'")


def _reason(exc: BaseException) -> str:
    import socket

    response = getattr(exc, "response", None)
    if getattr(response, "status_code", None):
        return f"HTTP {response.status_code}"
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in seen)
    if any(isinstance(e, ConnectionRefusedError) for e in seen) or "Connection refused" in text:
        return "connection refused"
    if any(isinstance(e, (socket.timeout, TimeoutError)) for e in seen) or "timed out" in text.lower():
        return f"no answer within {REQUEST_TIMEOUT:g} s"
    if isinstance(exc, ImportError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"[:200]


def to_openlineage(event: dict) -> Any:
    """An ``openlineage.client.event_v2.RunEvent`` from an event of :mod:`.lineage`."""
    from openlineage.client import event_v2
    from openlineage.client.facet_v2 import (dataset_version_dataset, error_message_run, job_type_job,
                                             output_statistics_output_dataset, parent_run, schema_dataset,
                                             sql_job)

    producer = event["producer"]
    run_facets: dict[str, Any] = {}
    raw = event["run"].get("facets", {})
    if "parent" in raw:
        parent = raw["parent"]
        run_facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent["run"]["runId"]),
            job=parent_run.Job(namespace=parent["job"]["namespace"], name=parent["job"]["name"]),
            producer=producer)
    if "errorMessage" in raw:
        error = raw["errorMessage"]
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error["message"], programmingLanguage=error["programmingLanguage"], producer=producer)
    job_facets: dict[str, Any] = {}
    raw = event["job"].get("facets", {})
    if "jobType" in raw:
        kind = raw["jobType"]
        job_facets["jobType"] = job_type_job.JobTypeJobFacet(
            processingType=kind["processingType"], integration=kind["integration"], jobType=kind.get("jobType"),
            producer=producer)
    if "sql" in raw:
        job_facets["sql"] = sql_job.SQLJobFacet(query=raw["sql"]["query"], producer=producer)

    def dataset_facets(data: dict) -> dict[str, Any]:
        facets: dict[str, Any] = {}
        raw = data.get("facets", {})
        if "schema" in raw:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f.get("type"))
                        for f in raw["schema"]["fields"]], producer=producer)
        if "version" in raw:
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=raw["version"]["datasetVersion"], producer=producer)
        return facets

    outputs = []
    for data in event.get("outputs", []):
        output_facets: dict[str, Any] = {}
        stats = data.get("outputFacets", {}).get("outputStatistics")
        if stats is not None:
            output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=stats.get("rowCount"), producer=producer)
        outputs.append(event_v2.OutputDataset(namespace=data["namespace"], name=data["name"],
                                              facets=dataset_facets(data), outputFacets=output_facets))
    return event_v2.RunEvent(
        eventType=event_v2.RunState(event["eventType"]), eventTime=event["eventTime"], producer=producer,
        run=event_v2.Run(runId=event["run"]["runId"], facets=run_facets),
        job=event_v2.Job(namespace=event["job"]["namespace"], name=event["job"]["name"], facets=job_facets),
        inputs=[event_v2.InputDataset(namespace=d["namespace"], name=d["name"], facets=dataset_facets(d))
                for d in event.get("inputs", [])],
        outputs=outputs)


def lineage_sender(settings: Any, default_file: Path | None, secret: Callable[[Any], Any] | None = None,
                   environ: Mapping[str, str] = os.environ) -> Any:
    """The sender of a run's lineage events (see the module docstring for the order), or None."""
    if lineage_disabled(environ):
        return None
    chosen = platform_transport(settings)
    if chosen is not None:
        transport, target = chosen
        return OpenLineageSender(target, transport, secret)
    if settings.lineage_endpoint:
        # The events are already OpenLineage's JSON: posting them needs no client (and so no
        # 0.5-1 s import). One bounded attempt per event, as for traces.
        return HttpSender(endpoint_url(settings.lineage_endpoint, LINEAGE_PATH), "lineage events")
    where = environment_config(environ)
    if where is not None:
        return OpenLineageSender(where)
    if default_file is not None:
        from floe.observability.sender import FileSender

        return FileSender(default_file, "lineage events")
    return None
