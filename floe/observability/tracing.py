"""OpenTelemetry spans for a run, exported over OTLP/HTTP (protobuf).

Spans are batched by the SDK's ``BatchSpanProcessor``; each batch is encoded with the OTLP
protobuf encoder and handed to an :class:`~floe.observability.sender.HttpSender`, whose
background thread posts it to ``<otlp_endpoint>/v1/traces``. floe does not use the SDK's
OTLP/HTTP exporter: it retries with exponential backoff and logs its own errors, where floe
wants one bounded attempt and one warning per endpoint.

A run gets its own ``TracerProvider``; the global one is left alone, so floe never changes how
an application that embeds it traces.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (BatchSpanProcessor, SimpleSpanProcessor, SpanExporter,
                                            SpanExportResult)
from opentelemetry.trace import Span, Status, StatusCode

from floe import __version__
from floe.observability.sender import HttpSender

#: How often the batch processor ships finished spans during a run.
SCHEDULE_DELAY_MS = 1000


class OtlpHttpExporter(SpanExporter):
    """Encodes span batches as OTLP protobuf and queues them on an :class:`HttpSender`."""

    def __init__(self, sender: HttpSender):
        self.sender = sender

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        self.sender.send(encode_spans(spans).SerializePartialToString())
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """The sender is closed by :class:`Tracing`, with the run's deadline."""


class Tracing:
    """The run's tracer: spans with explicit parents, exported by the given exporters.

    :param attributes: resource attributes (``service.name`` ...).
    :param sender: where OTLP batches go, or None (only ``exporters``, e.g. in tests).
    :param exporters: further exporters, called synchronously as each span ends.
    """

    def __init__(self, attributes: Mapping[str, Any], sender: HttpSender | None = None,
                 exporters: Sequence[SpanExporter] = ()):
        self.sender = sender
        # shutdown_on_exit=False: the run closes the provider itself, within its deadline; an
        # atexit shutdown could wait 30 s on an endpoint that hangs.
        self.provider = TracerProvider(resource=Resource.create(dict(attributes)),
                                       shutdown_on_exit=False)
        if sender is not None:
            self.provider.add_span_processor(BatchSpanProcessor(
                OtlpHttpExporter(sender), schedule_delay_millis=SCHEDULE_DELAY_MS))
        for exporter in exporters:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("floe", __version__)

    def start(self, name: str, *, parent: Span | None = None, attributes: Mapping[str, Any] | None = None,
              start: dt.datetime | None = None) -> Span:
        """Start a span under ``parent`` (a root span when None, whatever the current context)."""
        context = trace.set_span_in_context(parent) if parent is not None else otel_context.Context()
        return self.tracer.start_span(name, context=context, attributes=_clean(attributes or {}),
                                      start_time=_ns(start) if start else None)

    @staticmethod
    def end(span: Span, *, ok: bool, attributes: Mapping[str, Any] | None = None,
            error: BaseException | str | None = None, end: dt.datetime | None = None) -> None:
        """Set the final attributes and status (recording ``error``) and end ``span``."""
        from floe.runtime.scrub import scrub, scrub_exception

        span.set_attributes(_clean(attributes or {}))
        if isinstance(error, BaseException):
            # A secret the failing code quoted stays out of the exported span.
            error = scrub_exception(error)
            span.record_exception(error)
        if ok:
            span.set_status(Status(StatusCode.OK))
        else:
            message = scrub(str(error)) if error is not None else "failed"
            span.set_status(Status(StatusCode.ERROR, message[:1000]))
        span.end(end_time=_ns(end) if end else None)

    def close(self, deadline: float) -> None:
        """Hand the last spans to the sender and let it deliver them until ``deadline``."""
        # The batch processor's exporter only queues bytes, so this returns at once.
        self.provider.shutdown()
        if self.sender is not None:
            self.sender.close(deadline)


def _ns(when: dt.datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1_000_000_000)


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # OpenTelemetry refuses None and arbitrary objects; drop the first, stringify the rest.
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, (str, bool, int, float)) else str(value)
    return out
