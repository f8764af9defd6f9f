"""OpenTelemetry's standard environment variables, as operators already set them for every SDK.

Read at run time (never at compile time: the artifacts stay the same on every machine):

- ``OTEL_SDK_DISABLED=true`` turns traces off;
- ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as given, the full URL) or
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``/v1/traces`` is appended) say where spans go when
  platform.yaml names no ``otlp_endpoint``;
- ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` / ``OTEL_EXPORTER_OTLP_HEADERS`` (``k=v,k2=v2``,
  values URL-encoded) are sent with them, only to the endpoint the environment names: a
  collector's credentials never go to a different endpoint platform.yaml chose;
- ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_PROTOCOL``: floe sends
  ``http/protobuf`` only and says so when ``grpc`` is asked for;
- ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,...``) are resource attributes.

Where platform.yaml (or floe.yaml's ``observability.attributes``) sets the same thing, the
file wins: the platform team's choice is the contract, the environment fills what it leaves open.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import TYPE_CHECKING, Any, Mapping

import attrs

from floe.observability.sender import endpoint_url

if TYPE_CHECKING:
    from floe.artifacts import Observability, ProductInfo

TRACES_PATH = "/v1/traces"


@attrs.frozen
class TraceTarget:
    """Where the run's spans go, and who said so.

    ``url`` is None when spans cannot be sent there; ``problem`` then says why, for the user.
    ``headers`` may hold credentials: never print them.
    """

    source: str
    url: str | None
    headers: Mapping[str, str] = attrs.Factory(dict)
    problem: str | None = None


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def sdk_disabled(environ: Mapping[str, str] = os.environ) -> bool:
    """``OTEL_SDK_DISABLED=true``: the operator switched OpenTelemetry off."""
    return _true(environ.get("OTEL_SDK_DISABLED"))


def parse_pairs(text: str | None) -> dict[str, str]:
    """``k1=v1,k2=v%20two`` → ``{"k1": "v1", "k2": "v two"}``; malformed members are skipped,
    as OpenTelemetry's SDKs do."""
    out: dict[str, str] = {}
    for member in (text or "").split(","):
        key, sep, value = member.partition("=")
        key = key.strip()
        if sep and key:
            out[key] = urllib.parse.unquote(value.strip())
    return out


def trace_target(settings: "Observability", environ: Mapping[str, str] = os.environ) -> TraceTarget | None:
    """Where spans go: platform.yaml's ``otlp_endpoint``, else the OTLP environment variables,
    else None (nowhere)."""
    if settings.otlp_endpoint:
        if settings.otlp_protocol == "grpc":
            return TraceTarget("platform.yaml", None, problem=(
                f"observability: traces are not exported to {settings.otlp_endpoint}: floe sends OTLP "
                "over HTTP only; set otlp_protocol: http/protobuf and point otlp_endpoint at the "
                "collector's OTLP/HTTP port (usually 4318). The run itself is not affected."))
        return TraceTarget("platform.yaml", endpoint_url(settings.otlp_endpoint, TRACES_PATH))
    for name, append in (("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", False), ("OTEL_EXPORTER_OTLP_ENDPOINT", True)):
        value = (environ.get(name) or "").strip()
        if value:
            break
    else:
        return None
    protocol_var = next((p for p in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
                         if (environ.get(p) or "").strip()), None)
    if settings.otlp_protocol:
        protocol_var, protocol = "platform.yaml's otlp_protocol", settings.otlp_protocol
    else:
        protocol = (environ.get(protocol_var) or "").strip() if protocol_var else "http/protobuf"
    if protocol != "http/protobuf":
        return TraceTarget(name, None, problem=(
            f"observability: traces are not exported to ${name}: {protocol_var} asks for {protocol}, "
            "and floe sends OTLP over HTTP only (use http/protobuf and point the endpoint at the "
            "collector's OTLP/HTTP port, usually 4318). The run itself is not affected."))
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return TraceTarget(name, None, problem=(
            f"observability: traces are not exported: ${name} is not an http(s) URL "
            "(e.g. http://otel-collector:4318). The run itself is not affected."))
    headers = parse_pairs(environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
                          or environ.get("OTEL_EXPORTER_OTLP_HEADERS"))
    return TraceTarget(name, endpoint_url(value, TRACES_PATH) if append else value, headers)


def resource_attributes(product: "ProductInfo", settings: "Observability",
                        environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The run's resource attributes, later sources winning: the product's name and version,
    ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``, floe.yaml's ``observability.attributes``."""
    out: dict[str, Any] = {"service.name": product.name, "service.version": product.version}
    out.update(parse_pairs(environ.get("OTEL_RESOURCE_ATTRIBUTES")))
    service = (environ.get("OTEL_SERVICE_NAME") or "").strip()
    if service:
        out["service.name"] = service
    out.update(settings.attributes)
    return out
