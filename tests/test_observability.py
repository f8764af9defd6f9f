"""Observability built in: spans and OpenLineage events for every run, never breaking it.

Unit tests drive the run observer the way the Dagster plugin does, with OpenTelemetry's
in-memory exporter and a list for lineage events. A loopback HTTP collector stands in for an
OpenTelemetry collector (OTLP/HTTP protobuf on ``/v1/traces``) and for Marquez (OpenLineage on
``/api/v1/lineage``), recording what it received. Two real ``floe run`` subprocesses close the
module: one against the collector, one against endpoints that refuse and that hang.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import re
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pyarrow as pa
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import EXAMPLE, FIXTURES, ROOT, floe_subprocess, prime_dbt_cache

from floe.artifacts import Observability, PlannedNode, PlannedTable, ProductInfo, PublishPlan
from floe.observability import FLUSH_DEADLINE, NULL_OBSERVER, RunObserver, observe_run
from floe.observability.runs import record_run
from floe.observability.sender import FileSender
from floe.runtime import RunOutcome, TableResult

#: The OpenLineage RunEvent essentials floe must satisfy; the copy in fixtures/ keeps the suite
#: running in a clone without ../shared.
SHARED_SCHEMA = ROOT.parent / "shared" / "specs" / "openlineage-runevent.schema.json"
SCHEMA = json.loads((SHARED_SCHEMA if SHARED_SCHEMA.is_file()
                     else FIXTURES / "openlineage-runevent.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
PRODUCT = ProductInfo(name="shop", version="1.0.0")
RUN_ID = str(uuid.uuid4())
T0 = dt.datetime(2026, 1, 2, 3, 4, 5)  # dbt reports naive UTC times
SCHEMA_ORDERS = pa.schema([("order_id", pa.int64()), ("amount", pa.float64())])


# -- a loopback collector and broken endpoints ------------------------------------------------


class Collector:
    """Records every POST; answers 200, or ``status`` when set (e.g. 500)."""

    def __init__(self, status: int = 200):
        self.requests: list[tuple[str, str, bytes]] = []
        self.status = status
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                collector.requests.append((self.path, self.headers.get("Content-Type", ""), body))
                self.send_response(collector.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(body) for path, _, body in self.requests if path == "/api/v1/lineage"]

    def spans(self) -> list[tuple[dict, object]]:
        """(resource attributes, span) of every span received over OTLP/HTTP."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        out = []
        for path, content_type, body in self.requests:
            if path != "/v1/traces":
                continue
            assert content_type == "application/x-protobuf"
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                out += [(resource, span) for scope in resource_spans.scope_spans for span in scope.spans]
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Hanging:
    """Accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed: connections are refused


@pytest.fixture
def collector():
    server = Collector()
    yield server
    server.close()


# -- driving the observer as the Dagster plugin does ---------------------------------------------


def settings(**changes) -> Observability:
    values = dict(traces=True, lineage=True, attributes={"service.name": "shop-svc", "team": "sales"})
    values.update(changes)
    return Observability(**values)


def make_observer(observability: Observability | None = None, **options) -> tuple[RunObserver, dict]:
    seen = {"spans": InMemorySpanExporter(), "events": [], "warnings": []}
    options.setdefault("span_exporters", [seen["spans"]])
    options.setdefault("plan", PLAN)
    observer = RunObserver(observability or settings(), product=PRODUCT, catalog_namespace="iceberg://floe",
                           lineage_sink=seen["events"], warn=seen["warnings"].append, **options)
    return observer, seen


def dbt_result(name: str, resource_type: str = "model", status: str = "success", start: float = 0.0,
               depends: tuple[str, ...] = (), message: str | None = None) -> SimpleNamespace:
    began = T0 + dt.timedelta(seconds=start)
    timing = [SimpleNamespace(name="compile", started_at=began, completed_at=began + dt.timedelta(seconds=0.1)),
              SimpleNamespace(name="execute", started_at=began + dt.timedelta(seconds=0.1),
                              completed_at=began + dt.timedelta(seconds=0.5))]
    node = SimpleNamespace(unique_id=f"{resource_type}.shop.{name}", name=name, resource_type=resource_type,
                           fqn=["shop", name], depends_on=SimpleNamespace(nodes=list(depends)),
                           config=SimpleNamespace(materialized="table" if resource_type == "model" else None),
                           compiled_code=f"select * from {name}_input" if resource_type == "model" else None,
                           columns={})
    return SimpleNamespace(node=node, status=status, timing=timing, message=message)


#: The publish plan compile would write for the simulated product.
PLAN = PublishPlan([
    PlannedNode("source.shop.erp.customers", "source", "erp.customers", transform="core"),
    PlannedNode("seed.shop.raw_orders", "seed", "raw_orders", transform="core", materialized="seed",
                layer="main"),
    PlannedNode("model.shop.bronze_orders", "model", "bronze_orders", transform="core", materialized="table",
                layer="bronze", depends_on=["seed.shop.raw_orders", "source.shop.erp.customers"],
                table=PlannedTable("bronze", "bronze_orders", "replace")),
    PlannedNode("python.top_orders", "python", "top_orders", materialized="python", layer="gold",
                depends_on=["model.shop.bronze_orders"], table=PlannedTable("gold", "top_orders", "replace")),
])


def simulate(observer: RunObserver, *, fail_model: bool = False, fail_python: bool = False) -> None:
    """One run: a dbt step (a seed, a model and its test), then a Python asset reading the model."""
    results = [dbt_result("raw_orders", "seed"),
               dbt_result("bronze_orders", start=1, status="error" if fail_model else "success",
                          depends=("seed.shop.raw_orders", "source.shop.erp.customers"),
                          message="Binder Error: no_such_column" if fail_model else None),
               dbt_result("not_null_bronze_orders_order_id", "test", start=2, status="pass",
                          depends=("model.shop.bronze_orders",))]
    with pytest.raises(RuntimeError) if fail_model else _nothing():
        with observer.dbt_build("core", RUN_ID):
            observer.dbt_finished(results, "core")
            if fail_model:
                raise RuntimeError("model 'bronze_orders' failed: Binder Error: no_such_column")
            observer.table_published(TableResult("bronze_orders", "bronze.bronze_orders", 7, 111, "create"),
                                     SCHEMA_ORDERS)
    tables = () if fail_model else (TableResult("bronze_orders", "bronze.bronze_orders", 7, 111, "create"),)
    if not fail_model:
        with pytest.raises(ValueError) if fail_python else _nothing():
            with observer.python_asset("top_orders", RUN_ID, layer="gold", deps=["bronze_orders"]):
                if fail_python:
                    raise ValueError("no rows to rank")
                observer.table_published(TableResult("top_orders", "gold.top_orders", 2, 222, "create"),
                                         SCHEMA_ORDERS)
    failed = fail_model or fail_python
    observer.run_finished(RunOutcome(success=not failed, run_id=RUN_ID, tables=tables,
                                     failed_asset=("bronze_orders" if fail_model else "top_orders") if failed else None,
                                     error="it broke" if failed else None))
    observer.close()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def openlineage_free(value):
    """An event without what openlineage-python's client adds (its run tag, empty facets)."""
    if isinstance(value, dict):
        cleaned = {k: openlineage_free(v) for k, v in value.items() if k != "tags"}
        return {k: v for k, v in cleaned.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [openlineage_free(v) for v in value]
    return value


def spans_by_name(exporter: InMemorySpanExporter) -> dict:
    return {span.name: span for span in exporter.get_finished_spans()}


# -- traces -------------------------------------------------------------------------------------


def test_spans_nest_run_asset_and_dbt_nodes_with_dbts_own_timings():
    observer, seen = make_observer()
    simulate(observer)
    spans = spans_by_name(seen["spans"])
    assert set(spans) == {"floe run shop", "dbt build core", "dbt seed raw_orders", "dbt model bronze_orders",
                          "dbt test not_null_bronze_orders_order_id", "dbt compile", "dbt execute",
                          "asset top_orders"}
    run = spans["floe run shop"]
    assert run.parent is None
    assert spans["dbt build core"].parent.span_id == run.context.span_id
    assert spans["asset top_orders"].parent.span_id == run.context.span_id
    model = spans["dbt model bronze_orders"]
    assert model.parent.span_id == spans["dbt build core"].context.span_id
    began = int((T0 + dt.timedelta(seconds=1)).replace(tzinfo=dt.timezone.utc).timestamp() * 1e9)
    assert (model.start_time, model.end_time) == (began, began + 500_000_000)
    phases = [s for s in seen["spans"].get_finished_spans()
              if s.parent is not None and s.parent.span_id == model.context.span_id]
    assert sorted(s.name for s in phases) == ["dbt compile", "dbt execute"]
    assert len({s.context.trace_id for s in seen["spans"].get_finished_spans()}) == 1


def test_spans_carry_product_asset_table_rows_snapshot_and_status_and_the_resource_attributes():
    observer, seen = make_observer()
    simulate(observer)
    spans = spans_by_name(seen["spans"])
    model = spans["dbt model bronze_orders"].attributes
    assert {k: model[k] for k in ("floe.asset.key", "floe.table", "floe.rows", "floe.snapshot_id",
                                  "floe.status", "dbt.materialized")} == {
        "floe.asset.key": "bronze_orders", "floe.table": "bronze.bronze_orders", "floe.rows": 7,
        "floe.snapshot_id": "111", "floe.status": "success", "dbt.materialized": "table"}
    asset = spans["asset top_orders"].attributes
    assert (asset["floe.table"], asset["floe.rows"], asset["floe.snapshot_id"], asset["floe.status"]) == (
        "gold.top_orders", 2, "222", "success")
    run = spans["floe run shop"]
    assert run.attributes["floe.product"] == "shop" and run.attributes["floe.run_id"] == RUN_ID
    assert run.attributes["floe.status"] == "success" and run.status.status_code.name == "OK"
    assert run.resource.attributes["service.name"] == "shop-svc"  # floe.yaml's attributes win
    assert run.resource.attributes["team"] == "sales"
    assert run.resource.attributes["service.version"] == "1.0.0"


def test_a_failing_python_asset_records_its_exception_and_fails_its_span_and_the_run():
    observer, seen = make_observer()
    simulate(observer, fail_python=True)
    spans = spans_by_name(seen["spans"])
    asset = spans["asset top_orders"]
    assert asset.status.status_code.name == "ERROR"
    assert asset.status.description == "no rows to rank"
    assert [(e.name, e.attributes["exception.type"]) for e in asset.events] == [("exception", "ValueError")]
    assert spans["floe run shop"].attributes["floe.status"] == "failed"
    assert spans["floe run shop"].attributes["floe.failed_asset"] == "top_orders"


# -- lineage ------------------------------------------------------------------------------------


def test_every_asset_and_dbt_node_gets_start_and_complete_under_the_floe_run():
    observer, seen = make_observer()
    simulate(observer)
    events = seen["events"]
    assert [(e["eventType"], e["job"]["name"]) for e in events] == [
        ("START", "shop"),
        ("START", "shop.raw_orders"), ("COMPLETE", "shop.raw_orders"),
        ("START", "shop.bronze_orders"), ("COMPLETE", "shop.bronze_orders"),
        ("START", "shop.top_orders"), ("COMPLETE", "shop.top_orders"),
        ("COMPLETE", "shop")]
    assert events[0]["run"]["runId"] == RUN_ID and events[0]["job"]["namespace"] == "shop"
    for event in events[1:-1]:
        assert event["run"]["facets"]["parent"]["run"] == {"runId": RUN_ID}
        assert event["run"]["facets"]["parent"]["job"] == {"namespace": "shop", "name": "shop"}
        assert event["producer"] == project_repository()
    model = events[4]
    assert [(d["namespace"], d["name"]) for d in model["inputs"]] == [
        ("iceberg://floe", "main.raw_orders"), ("iceberg://floe", "erp.customers")]
    [output] = model["outputs"]
    assert (output["namespace"], output["name"]) == ("iceberg://floe", "bronze.bronze_orders")
    assert output["facets"]["schema"]["fields"] == [{"name": "order_id", "type": "int64"},
                                                    {"name": "amount", "type": "double"}]
    assert output["facets"]["version"]["datasetVersion"] == "111"
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 7
    assert model["job"]["facets"]["sql"]["query"] == "select * from bronze_orders_input"
    assert model["job"]["facets"]["jobType"]["integration"] == "DBT"
    assert model["eventTime"] == "2026-01-02T03:04:06.500000+00:00"  # dbt's own completion time
    python = events[6]
    assert [d["name"] for d in python["inputs"]] == ["bronze.bronze_orders"]
    assert [d["name"] for d in python["outputs"]] == ["gold.top_orders"]
    assert events[3]["run"]["runId"] == events[4]["run"]["runId"] != RUN_ID


def test_failures_send_fail_with_the_error_message():
    observer, seen = make_observer()
    simulate(observer, fail_model=True)
    kinds = [(e["eventType"], e["job"]["name"]) for e in seen["events"]]
    assert ("FAIL", "shop.bronze_orders") in kinds and kinds[-1] == ("FAIL", "shop")
    fail = next(e for e in seen["events"] if e["eventType"] == "FAIL" and e["job"]["name"] == "shop.bronze_orders")
    assert fail["run"]["facets"]["errorMessage"]["message"] == "Binder Error: no_such_column"
    assert seen["events"][-1]["run"]["facets"]["errorMessage"]["message"] == "bronze_orders: it broke"


@pytest.mark.parametrize("scenario", [{}, {"fail_model": True}, {"fail_python": True}])
def test_every_event_validates_against_the_openlineage_runevent_schema(scenario):
    observer, seen = make_observer()
    simulate(observer, **scenario)
    assert seen["events"]
    for event in seen["events"]:
        errors = [e.message for e in VALIDATOR.iter_errors(event)]
        assert errors == [], (event["eventType"], event["job"]["name"], errors)


def test_lineage_goes_to_floe_lineage_events_jsonl_when_no_endpoint_is_set(tmp_path):
    observer, seen = make_observer(state_dir=tmp_path)
    simulate(observer)
    lines = (tmp_path / "lineage" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == seen["events"]


def test_the_local_events_file_is_set_aside_when_it_grows_past_its_bound(tmp_path):
    path = tmp_path / "lineage" / "events.jsonl"
    for run in range(3):
        sender = FileSender(path, "lineage events", max_bytes=200)
        for event in range(4):
            sender.send({"run": run, "event": event, "padding": "x" * 20})
        sender.close(deadline=time.monotonic() + 1)
        assert sender.warning() is None
    # Every run's events pass 200 bytes, so each run's file is set aside at once: .1 holds the
    # latest run's events, older ones are gone, and never more than two files exist.
    assert not path.exists()
    kept = [json.loads(line) for line in path.with_name("events.jsonl.1").read_text().splitlines()]
    assert [(e["run"], e["event"]) for e in kept] == [(2, n) for n in range(4)]
    assert sorted(p.name for p in path.parent.iterdir()) == ["events.jsonl.1"]


# -- switches -----------------------------------------------------------------------------------


def test_traces_off_makes_no_spans_and_lineage_off_sends_no_events():
    observer, seen = make_observer(settings(traces=False))
    simulate(observer)
    assert seen["spans"].get_finished_spans() == () and len(seen["events"]) == 8
    observer, seen = make_observer(settings(lineage=False))
    simulate(observer)
    assert seen["events"] == [] and len(seen["spans"].get_finished_spans()) == 12


def test_both_switches_off_give_the_null_observer(tmp_path):
    artifacts = SimpleNamespace(observability=settings(traces=False, lineage=False))
    with observe_run(SimpleNamespace(artifacts=artifacts, state_dir=tmp_path)) as observer:
        assert observer is NULL_OBSERVER
        with observer.python_asset("a", RUN_ID), observer.dbt_build("core", RUN_ID):
            observer.dbt_finished([], "core")
    assert not (tmp_path / "lineage").exists()


def test_an_error_inside_observability_is_one_warning_and_never_reaches_the_run():
    observer, seen = make_observer()
    with observer.dbt_build("core", RUN_ID):
        observer.dbt_finished([object()], "core")  # not a dbt result
        observer.dbt_finished([object()], "core")
    observer.table_published(None)
    observer.close()
    assert seen["warnings"] == ["observability: internal error (AttributeError: 'object' object has no "
                                "attribute 'node'); this run's traces and lineage may be incomplete. "
                                "The run itself is not affected."]


# -- delivery over HTTP -------------------------------------------------------------------------


def test_spans_and_events_reach_an_otlp_http_and_openlineage_collector(collector):
    observer, seen = make_observer(settings(otlp_endpoint=collector.url, lineage_endpoint=collector.url),
                                   span_exporters=[])
    simulate(observer)
    assert seen["warnings"] == []
    spans = collector.spans()
    assert {span.name for _, span in spans} >= {"floe run shop", "dbt model bronze_orders", "asset top_orders"}
    assert {resource["service.name"] for resource, _ in spans} == {"shop-svc"}
    received = collector.events()
    # lineage_endpoint is posted by floe itself (no client, no import): each event arrives as
    # floe built it, OpenLineage's JSON already.
    assert received == seen["events"]


@pytest.mark.parametrize("kind", ["refused", "hanging", "http 500"])
def test_an_endpoint_that_refuses_hangs_or_fails_costs_one_warning_and_a_bounded_delay(kind):
    server = {"refused": None, "hanging": Hanging(), "http 500": Collector(status=500)}[kind]
    url = server.url if server is not None else refused_url()
    try:
        observer, seen = make_observer(settings(otlp_endpoint=url, lineage_endpoint=url), span_exporters=[])
        started = time.monotonic()
        simulate(observer)
        elapsed = time.monotonic() - started
    finally:
        if server is not None:
            server.close()
    reason = {"refused": "connection refused", "hanging": "no answer within 1 s", "http 500": "HTTP 500"}[kind]
    pattern = (r"observability: could not send {what} to {url} \({reason}\); \d+ not sent\. "
               r"The run itself is not affected\.")
    assert len(seen["warnings"]) == 2, seen["warnings"]
    assert re.fullmatch(pattern.format(what="traces", url=re.escape(url + "/v1/traces"),
                                       reason=re.escape(reason)), seen["warnings"][0])
    assert re.fullmatch(pattern.format(what="lineage events", url=re.escape(url + "/api/v1/lineage"),
                                       reason=re.escape(reason)), seen["warnings"][1])
    # Bounded by the flush deadline, not a timeout per payload (a loose bound: the exact cost
    # is bench/observability_overhead.py's to measure, not a test's on a shared machine).
    assert elapsed < 5 * FLUSH_DEADLINE, elapsed


def test_otlp_over_grpc_is_refused_with_one_warning_and_lineage_still_flows():
    observer, seen = make_observer(settings(otlp_endpoint="http://collector:4317", otlp_protocol="grpc"),
                                   span_exporters=[])
    simulate(observer)
    assert observer.tracing is None and len(seen["events"]) == 8
    assert seen["warnings"] == [
        "observability: traces are not exported to http://collector:4317: floe sends OTLP over HTTP "
        "only; set otlp_protocol: http/protobuf and point otlp_endpoint at the collector's OTLP/HTTP "
        "port (usually 4318). The run itself is not affected."]


# -- floe runs and floe lineage ----------------------------------------------------------------


def test_floe_runs_lists_recent_runs_with_status_duration_and_tables(tmp_path, run_cli):
    (tmp_path / "floe.yaml").write_text("name: shop\nversion: '1.0.0'\n")
    state = tmp_path / ".floe"
    assert run_cli(["runs"], cwd=tmp_path).output == "no runs yet: floe run builds the product\n"
    record_run(state, "shop", RunOutcome(True, "a0813350-0000-4000-8000-000000000001", seconds=8.24,
                                         tables=(TableResult("x", "gold.x", 3, 42, "create"),)))
    record_run(state, "shop", RunOutcome(False, "b1111111-0000-4000-8000-000000000002", seconds=3.0,
                                         failed_asset="silver_y", error="boom"))
    lines = run_cli(["runs"], cwd=tmp_path).output.splitlines()
    assert re.fullmatch(r"RUN +STATUS +STARTED +DURATION +TABLES", lines[0])
    assert re.fullmatch(r"b1111111  failed   \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ  3\.0s      failed at silver_y",
                        lines[1]), lines[1]
    assert re.fullmatch(r"a0813350  success  \S+ \S+  8\.2s      1: gold\.x", lines[2]), lines[2]
    runs = json.loads(run_cli(["runs", "--format", "json", "-n", "1"], cwd=tmp_path).output)
    assert [(r["run_id"][:8], r["status"], r["error"]) for r in runs] == [("b1111111", "failed", "boom")]


def test_floe_lineage_draws_sources_models_python_assets_and_tables_as_mermaid(demo, run_cli):
    result = run_cli(["lineage"], cwd=demo)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "flowchart LR"
    for line in ['  seed_raw_orders(["raw_orders"])',
                 '  model_gold_revenue_by_country["gold_revenue_by_country (table)"]',
                 '  python_top_countries[["top_countries"]]',
                 '  table_gold_top_countries[("gold.top_countries")]',
                 "  seed_raw_orders --> model_bronze_orders",
                 "  model_gold_revenue_by_country --> table_gold_gold_revenue_by_country",
                 "  table_gold_gold_revenue_by_country --> python_top_countries",
                 "  python_top_countries --> table_gold_top_countries"]:
        assert line in lines
    dot = run_cli(["lineage", "--format", "dot"], cwd=demo).output
    assert '  "model:silver_customer_orders" -> "table:silver.silver_customer_orders";' in dot
    graph = json.loads(run_cli(["lineage", "--format", "json"], cwd=demo).output)
    assert {"from": "python:top_countries", "to": "table:gold.top_countries"} in graph["edges"]
    assert {n["kind"] for n in graph["nodes"]} == {"seed", "model", "python", "table"}


# -- floe run end to end -------------------------------------------------------------------------


def set_endpoints(product: Path, otlp: str | None, lineage: str | None) -> None:
    platform = product / "platform" / "local" / "platform.yaml"
    text = re.sub(r"observability:\n(  .*\n)+", "", platform.read_text())
    lines = ["observability:", "  traces: true", "  lineage: true"]
    lines += [f"  otlp_endpoint: {otlp}"] if otlp else []
    lines += [f"  lineage_endpoint: {lineage}"] if lineage else []
    platform.write_text(text + "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """One product run against the collector; its run time is the baseline of the next test."""
    product = tmp_path_factory.mktemp("observed") / "shop"
    shutil.copytree(EXAMPLE, product, ignore=shutil.ignore_patterns(".floe", "target", "logs"))
    prime_dbt_cache(EXAMPLE, product)
    server = Collector()
    set_endpoints(product, server.url, server.url)
    started = time.monotonic()
    result = floe_subprocess(["run"], product, timeout=300)
    elapsed = time.monotonic() - started
    server.close()
    assert result.returncode == 0, result.stderr
    yield SimpleNamespace(product=product, result=result, collector=server, seconds=elapsed)


def test_floe_run_sends_spans_and_lineage_of_every_asset_and_model(e2e):
    assert "observability" not in e2e.result.stderr
    run_id = re.search(r"run (\S+) succeeded", e2e.result.stdout).group(1)
    names = {span.name for _, span in e2e.collector.spans()}
    assert {"floe run customer-analytics", "dbt build core", "dbt model gold_revenue_by_country",
            "dbt seed raw_orders", "dbt test unique_bronze_customers_customer_id", "asset top_countries"} <= names
    events = e2e.collector.events()
    for event in events:
        assert [e.message for e in VALIDATOR.iter_errors(event)] == []
    jobs = {(e["eventType"], e["job"]["name"]) for e in events}
    for asset in ("bronze_customers", "bronze_orders", "silver_customer_orders", "gold_revenue_by_country",
                  "top_countries", "raw_orders"):
        assert {("START", f"customer-analytics.{asset}"), ("COMPLETE", f"customer-analytics.{asset}")} <= jobs
    assert events[0]["run"]["runId"] == run_id and events[-1]["eventType"] == "COMPLETE"
    assert {e["run"]["facets"]["parent"]["run"]["runId"] for e in events[1:-1]} == {run_id}
    gold = next(e for e in events if e["eventType"] == "COMPLETE"
                and e["job"]["name"] == "customer-analytics.gold_revenue_by_country")
    assert [d["name"] for d in gold["inputs"]] == ["silver.silver_customer_orders"]
    first = gold["outputs"][0]["facets"]["schema"]["fields"][0]
    assert (first["name"], first["type"]) == ("country", "string")
    assert "from" in gold["job"]["facets"]["sql"]["query"]
    assert not (e2e.product / ".floe" / "lineage").exists()  # sent to the endpoint instead


def test_floe_run_succeeds_with_a_refusing_and_a_hanging_endpoint_one_warning_each(e2e):
    hanging = Hanging()
    refused = refused_url()
    set_endpoints(e2e.product, refused, hanging.url)
    try:
        started = time.monotonic()
        result = floe_subprocess(["run"], e2e.product, timeout=300)
        elapsed = time.monotonic() - started
    finally:
        hanging.close()
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "observability" in line]
    assert len(warnings) == 2, result.stderr
    assert re.fullmatch(f"  observability: could not send traces to {refused}/v1/traces "
                        r"\(connection refused\); \d+ not sent\. The run itself is not affected\.",
                        warnings[0]), warnings
    assert re.fullmatch(f"  observability: could not send lineage events to {hanging.url}/api/v1/lineage "
                        r"\(no answer within 1 s\); \d+ not sent\. The run itself is not affected\.",
                        warnings[1]), warnings
    # The same product ran a moment ago against a healthy collector: broken endpoints must not
    # hold the run up by a timeout per payload (the bench measures the exact cost).
    assert elapsed < e2e.seconds + 10 * FLUSH_DEADLINE, (elapsed, e2e.seconds)
    runs = json.loads(floe_subprocess(["runs", "--format", "json"], e2e.product).stdout)
    assert [r["status"] for r in runs[:2]] == ["success", "success"]


def project_repository() -> str:
    """The repository URL floe's pyproject.toml declares: the lineage producer must be it."""
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    return tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"]
