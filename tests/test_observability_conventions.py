"""Operators' conventions: OpenTelemetry's ``OTEL_*`` variables and OpenLineage's client config.

Real loopback receivers (an OTLP/HTTP collector and an OpenLineage HTTP endpoint, both
``http.server`` on 127.0.0.1) record what arrives, headers included. Lineage that goes through
openlineage-python uses its real client and transports (http, file, console, composite); only
Kafka cannot run here, so its test shows the clear message when its extra is missing.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import re
import shutil
import sys
import threading
import tomllib
import uuid
from pathlib import Path

import pytest
# The OTLP encoder is imported up front: a simulated run ends within milliseconds, before the
# trace sender's thread could import it (a real run covers that with its own work). The
# openlineage client is not: its sender waits for its import at the end of the run.
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: F401

from conftest import EXAMPLE, ROOT, floe_subprocess, prime_dbt_cache
from test_observability import make_observer, settings, simulate

from floe.observability import lineage as ol
from floe.observability.openlineage_client import OpenLineageSender, to_openlineage
from floe.runtime.secrets import SecretValue

_CONVENTION_VARS = [
    "OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
    "OPENLINEAGE_URL", "OPENLINEAGE_API_KEY", "OPENLINEAGE_ENDPOINT", "OPENLINEAGE_NAMESPACE",
    "OPENLINEAGE_DISABLED", "OPENLINEAGE_CONFIG"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No convention variable from the developer's shell, no openlineage.yml in reach."""
    for name in _CONVENTION_VARS + [n for n in os.environ if n.startswith("OPENLINEAGE__")]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    yield
    leftovers = [name for name in os.environ if name.startswith("OPENLINEAGE__")]
    for name in leftovers:
        del os.environ[name]
    assert leftovers == [], "the OpenLineage client's environment copies outlived the run"


class Receiver:
    """Records (path, headers, body) of every POST and answers 200."""

    def __init__(self):
        self.requests: list[tuple[str, dict, bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[tuple[dict, bytes]]:
        return [(headers, body) for p, headers, body in self.requests if p == path]

    def events(self, path: str = "/api/v1/lineage") -> list[dict]:
        return [json.loads(body) for _, body in self.at(path)]

    def resources(self, path: str = "/v1/traces") -> list[dict]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        out = []
        for _, body in self.at(path):
            for spans in ExportTraceServiceRequest.FromString(body).resource_spans:
                out.append({a.key: a.value.string_value for a in spans.resource.attributes})
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def second_receiver():
    server = Receiver()
    yield server
    server.close()


def run_simulated(observability=None, **options):
    observer, seen = make_observer(observability or settings(), span_exporters=[], **options)
    simulate(observer)
    return observer, seen


# -- OpenTelemetry ------------------------------------------------------------------------------


def test_otel_exporter_otlp_endpoint_and_headers_send_spans_when_platform_names_no_endpoint(
        receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url + "/collector")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme,authorization=Bearer%20s3cr3t")
    observer, seen = run_simulated(settings(lineage=False))
    assert seen["warnings"] == []
    [(headers, _), *_] = receiver.at("/collector/v1/traces")
    assert headers["x-tenant"] == "acme" and headers["authorization"] == "Bearer s3cr3t"
    assert headers["content-type"] == "application/x-protobuf"


def test_the_traces_endpoint_variable_is_used_as_given_and_wins_over_the_general_one(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/unused")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url + "/custom/traces")
    run_simulated(settings(lineage=False))
    assert receiver.at("/custom/traces")


def test_platform_yaml_otlp_endpoint_wins_and_never_gets_the_environments_headers(
        receiver, second_receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", second_receiver.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20for-the-env-collector")
    run_simulated(settings(lineage=False, otlp_endpoint=receiver.url))
    assert receiver.at("/v1/traces") and not second_receiver.requests
    assert all("authorization" not in headers for headers, _ in receiver.at("/v1/traces"))


def test_otel_service_name_and_resource_attributes_fill_what_floe_yaml_leaves_open(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop-from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=from-env,service.name=x")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    run_simulated(settings(lineage=False, attributes={}))
    resource = receiver.resources()[0]
    assert resource["service.name"] == "shop-from-env"  # OTEL_SERVICE_NAME over the attributes list
    assert resource["deployment.environment"] == "prod" and resource["team"] == "from-env"
    receiver.requests.clear()
    run_simulated(settings(lineage=False))  # floe.yaml: service.name shop-svc, team sales
    resource = receiver.resources()[0]
    assert (resource["service.name"], resource["team"]) == ("shop-svc", "sales")
    assert resource["deployment.environment"] == "prod"


def test_otel_sdk_disabled_turns_traces_off_and_lineage_still_flows(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    observer, seen = run_simulated()
    assert observer.tracing is None and not receiver.requests
    assert len(seen["events"]) == 8


def test_an_otlp_grpc_protocol_from_the_environment_is_one_warning(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    observer, seen = run_simulated(settings(lineage=False))
    assert observer.tracing is None
    assert seen["warnings"] == [
        "observability: traces are not exported to $OTEL_EXPORTER_OTLP_ENDPOINT: OTEL_EXPORTER_OTLP_PROTOCOL "
        "asks for grpc, and floe sends OTLP over HTTP only (use http/protobuf and point the endpoint at "
        "the collector's OTLP/HTTP port, usually 4318). The run itself is not affected."]


# -- OpenLineage --------------------------------------------------------------------------------


def test_openlineage_url_and_api_key_send_events_through_the_openlineage_client(receiver, monkeypatch):
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    monkeypatch.setenv("OPENLINEAGE_API_KEY", "ol-key-5f1e")
    _, seen = run_simulated(settings(traces=False))
    assert seen["warnings"] == []
    requests = receiver.at("/api/v1/lineage")
    assert len(requests) == 8
    assert {headers["authorization"] for headers, _ in requests} == {"Bearer ol-key-5f1e"}
    events = receiver.events()
    assert [e["eventType"] for e in events] == [e["eventType"] for e in seen["events"]]
    assert events[0]["run"]["facets"]["tags"]["tags"][0]["key"] == "openlineage_client_version"
    # The client's copies of the URL and key (OPENLINEAGE__TRANSPORT__*) do not stay behind.
    assert [name for name in os.environ if name.startswith("OPENLINEAGE__")] == []


def test_openlineage_namespace_names_the_jobs_unless_platform_yaml_names_one(monkeypatch):
    monkeypatch.setenv("OPENLINEAGE_NAMESPACE", "ops-namespace")
    _, seen = run_simulated(settings(traces=False))
    assert {e["job"]["namespace"] for e in seen["events"]} == {"ops-namespace"}
    _, seen = run_simulated(settings(traces=False, lineage_namespace="acme-prod"))
    assert {e["job"]["namespace"] for e in seen["events"]} == {"acme-prod"}


def test_openlineage_disabled_sends_and_writes_nothing(receiver, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    observer, seen = make_observer(settings(traces=False, lineage_endpoint=receiver.url),
                                   span_exporters=[], state_dir=tmp_path / ".floe")
    simulate(observer)
    assert observer.lineage is False and seen["events"] == []
    assert not receiver.requests and not (tmp_path / ".floe" / "lineage").exists()


def test_openlineage_yml_in_the_working_directory_selects_its_file_transport(tmp_path):
    events_file = tmp_path / "ol-events.jsonl"
    (tmp_path / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {events_file}\n  append: true\n")
    _, seen = run_simulated(settings(traces=False), state_dir=tmp_path / ".floe")
    assert seen["warnings"] == []
    written = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [(e["eventType"], e["job"]["name"]) for e in written] == [
        (e["eventType"], e["job"]["name"]) for e in seen["events"]]
    assert not (tmp_path / ".floe" / "lineage").exists()  # openlineage.yml replaced floe's own file


def test_platform_yaml_lineage_endpoint_wins_over_openlineage_url(receiver, second_receiver, monkeypatch):
    monkeypatch.setenv("OPENLINEAGE_URL", second_receiver.url)
    run_simulated(settings(traces=False, lineage_endpoint=receiver.url))
    assert len(receiver.events()) == 8 and not second_receiver.requests


def test_a_composite_transport_from_platform_yaml_feeds_http_file_and_console(receiver, tmp_path, caplog):
    events_file = tmp_path / "composite.jsonl"
    transport = {"type": "composite", "transports": [
        {"type": "http", "url": receiver.url, "auth": {"type": "api_key", "apiKey": {"secret_ref": "marquez"}}},
        {"type": "file", "log_file_path": str(events_file), "append": True},
        {"type": "console"}]}
    resolved = []

    def secret(ref):
        resolved.append(ref["secret_ref"])
        return SecretValue("mq-key-77")

    with caplog.at_level(logging.INFO, logger="openlineage.client.transport.console"):
        _, seen = run_simulated(settings(traces=False, lineage_transport=transport), secret=secret)
    assert seen["warnings"] == []
    assert resolved == ["marquez"]
    assert len(receiver.events()) == 8
    assert {headers["authorization"] for headers, _ in receiver.at("/api/v1/lineage")} == {"Bearer mq-key-77"}
    assert len(events_file.read_text().splitlines()) == 8
    console = [r for r in caplog.records if r.name == "openlineage.client.transport.console"]
    assert len(console) == 8 and '"eventType": "START"' in console[0].getMessage()


def test_kafka_without_its_extra_is_one_warning_naming_what_to_install():
    import importlib.util

    # requirements.lock has no confluent-kafka: this pins what a user without the extra reads.
    assert importlib.util.find_spec("confluent_kafka") is None
    transport = {"type": "kafka", "topic": "lineage", "config": {"bootstrap.servers": "127.0.0.1:9092"}}
    _, seen = run_simulated(settings(traces=False, lineage_transport=transport))
    assert seen["warnings"] == [
        "observability: could not send lineage events to the kafka transport of platform.yaml (the kafka "
        "transport needs confluent-kafka: pip install 'openlineage-python[kafka]'); 8 not sent. "
        "The run itself is not affected."]


def test_a_secret_of_the_transport_never_appears_in_a_warning(tmp_path):
    from test_observability import refused_url

    transport = {"type": "http", "url": refused_url(), "auth": {"type": "api_key", "apiKey": {"secret_ref": "k"}},
                 "timeout": 1, "retry": {"total": 0}}
    _, seen = run_simulated(settings(traces=False, lineage_transport=transport),
                            secret=lambda ref: SecretValue("never-printed-9c2"))
    assert len(seen["warnings"]) == 1 and "connection refused" in seen["warnings"][0]
    assert "never-printed-9c2" not in seen["warnings"][0]


def test_events_convert_to_openlineage_objects_that_serialize_to_the_same_event():
    from openlineage.client.serde import Serde

    from test_observability import openlineage_free

    _, seen = run_simulated(settings(traces=False))
    for event in seen["events"]:
        assert openlineage_free(json.loads(Serde.to_json(to_openlineage(event)))) == openlineage_free(event)


def test_the_producer_is_the_repository_url_pyproject_names():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert ol.PRODUCER == ol.REPOSITORY_URL == project["urls"]["Repository"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", ol.PRODUCER)


# -- compile time -------------------------------------------------------------------------------


def test_lineage_transport_is_compiled_with_its_secret_refs_and_literal_keys_are_refused(demo, run_cli):
    platform = demo / "platform" / "local" / "platform.yaml"
    text = platform.read_text()
    platform.write_text(text.replace("observability:\n", "observability:\n  lineage_transport:\n"
                                     "    type: http\n    url: http://marquez:5000\n"
                                     "    auth: {type: api_key, apiKey: {secret_ref: marquez-key}}\n"))
    result = run_cli(["compile", "--format", "json"], cwd=demo)
    assert result.exit_code == 0, result.output
    artifacts = json.loads((demo / ".floe" / "compiled_artifacts.json").read_text())
    assert artifacts["observability"]["lineage_transport"]["auth"]["apiKey"] == {"secret_ref": "marquez-key"}
    assert "marquez-key" in [ref["secret_ref"] for ref in artifacts["secret_refs"]]
    platform.write_text(text.replace("observability:\n", "observability:\n  lineage_transport:\n"
                                     "    type: htp\n    url: http://marquez:5000\n"))
    result = run_cli(["validate", "platform/local/platform.yaml"], cwd=demo)
    assert result.exit_code == 1
    assert "lineage_transport: type: 'htp' is not an OpenLineage transport type (did you mean 'http'?)" in result.output


# -- floe run -----------------------------------------------------------------------------------


def test_floe_run_honours_otel_and_openlineage_environment_variables(tmp_path_factory, receiver):
    product = tmp_path_factory.mktemp("conventions") / "shop"
    shutil.copytree(EXAMPLE, product, ignore=shutil.ignore_patterns(".floe", "target", "logs"))
    prime_dbt_cache(EXAMPLE, product)
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci",
           "OPENLINEAGE_URL": receiver.url, "OPENLINEAGE_NAMESPACE": "ops"}
    result = floe_subprocess(["run"], product, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "observability" not in result.stderr
    resources = receiver.resources()
    assert resources and {r["deployment.environment"] for r in resources} == {"ci"}
    events = receiver.events()
    assert events and {e["job"]["namespace"] for e in events} == {"ops"}
    run_id = re.search(r"run (\S+) succeeded", result.stdout).group(1)
    assert events[0]["run"]["runId"] == run_id and uuid.UUID(run_id)
    assert not (product / ".floe" / "lineage").exists()
