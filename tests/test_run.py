"""`floe run` end to end: the real CLI, real dbt on DuckDB, real Iceberg tables, real Dagster.

Tables are read back with plain pyiceberg and compared with DuckDB's results. One product is
built once for the module and then changed step by step (a story, in file order): each run costs
seconds, so the tests share them instead of starting over.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from conftest import floe_subprocess

from floe.init import scaffold

TABLES = ["bronze.bronze_customers", "bronze.bronze_orders", "silver.silver_customer_orders",
          "gold.gold_orders_log", "gold.gold_revenue_by_country", "gold.top_countries"]
INCREMENTAL = """\
{{ config(materialized='incremental') }}
select order_id, customer_id, amount from {{ ref('bronze_orders') }}
{% if is_incremental() %}
where order_id > (select max(order_id) from {{ this }})
{% endif %}
"""


def catalog(product: Path, db: str = ".floe/catalog.db", warehouse: str = ".floe/warehouse") -> SqlCatalog:
    """The product's catalog, opened with plain pyiceberg (not floe code)."""
    return SqlCatalog("floe", uri=f"sqlite:///{product / db}", warehouse=(product / warehouse).as_uri())


def duckdb_rows(product: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(product / ".floe" / "warehouse.duckdb"), read_only=True) as con:
        return sorted(con.sql(f"select * from main.{table}").fetchall())


def iceberg_rows(product: Path, table: str) -> list[tuple]:
    arrow = catalog(product).load_table(table).scan().to_arrow()
    return sorted(tuple(row.values()) for row in arrow.to_pylist())


def snapshots(product: Path) -> dict[str, int]:
    cat = catalog(product)
    return {name: cat.load_table(name).current_snapshot().snapshot_id for name in TABLES}


def run(product: Path, *args: str):
    return floe_subprocess(["run", *args], product, timeout=300)


def run_with_edit(product: Path, relative: str, old: str, new: str):
    """Run the product with ``old`` replaced by ``new`` in one file, then put the file back.

    :returns: the run's result and the tables' snapshots from before it.
    """
    path = product / relative
    original = path.read_text()
    assert old in original, f"{relative} no longer contains {old!r}"
    before = snapshots(product)
    path.write_text(original.replace(old, new))
    try:
        return run(product), before
    finally:
        path.write_text(original)


@pytest.fixture(scope="module")
def product(tmp_path_factory) -> Path:
    """A scaffolded product with one incremental model added, built once."""
    path = tmp_path_factory.mktemp("run") / "shop"
    scaffold(path, name="shop")
    (path / "dbt/models/gold/gold_orders_log.sql").write_text(INCREMENTAL)
    result = run(path)
    assert result.returncode == 0, result.stderr
    path.joinpath("first-run.out").write_text(result.stdout + result.stderr)
    return path


def test_every_table_model_and_the_python_asset_land_in_the_catalog(product):
    output = (product / "first-run.out").read_text()
    assert "succeeded: 6 tables written" in output
    assert "dbt      unique_bronze_customers_customer_id  pass" in output
    assert "publish  gold.gold_revenue_by_country" in output
    cat = catalog(product)
    assert sorted(f"{ns[0]}.{name}" for ns in cat.list_namespaces()
                  for _, name in cat.list_tables(ns)) == sorted(TABLES)
    for table in TABLES[:-1]:
        assert iceberg_rows(product, table) == duckdb_rows(product, table.split(".")[1]), table
    revenue = dict((country, total) for country, _, total in duckdb_rows(product, "gold_revenue_by_country"))
    top = [row[0] for row in sorted(iceberg_rows(product, "gold.top_countries"), key=lambda r: -r[2])]
    assert top == sorted(revenue, key=lambda c: -revenue[c])[:2]
    schema = catalog(product).load_table("gold.gold_revenue_by_country").schema()
    assert [(f.name, str(f.field_type)) for f in schema.fields] == [
        ("country", "string"), ("orders", "long"), ("revenue", "decimal(38, 2)")]


def test_run_history_persists_under_floe(product):
    from dagster import DagsterInstance, DagsterRunStatus

    with DagsterInstance.from_config(str(product / ".floe" / "dagster")) as instance:
        runs = instance.get_runs()
        assert runs and runs[0].status == DagsterRunStatus.SUCCESS
        assert runs[0].tags["floe/product"] == "shop"


def test_a_rerun_writes_the_same_rows_as_a_new_snapshot(product):
    before = snapshots(product)
    rows = {t: iceberg_rows(product, t) for t in TABLES}
    result = run(product)
    assert result.returncode == 0, result.stderr
    after = snapshots(product)
    assert all(after[t] != before[t] for t in TABLES if t != "gold.gold_orders_log")
    assert {t: iceberg_rows(product, t) for t in TABLES} == rows
    history = catalog(product).load_table("gold.gold_revenue_by_country").history()
    assert [h.snapshot_id for h in history][-2:] == [before["gold.gold_revenue_by_country"],
                                                     after["gold.gold_revenue_by_country"]]


def test_an_incremental_model_appends_only_its_new_rows(product):
    seed = product / "dbt/seeds/raw_orders.csv"
    seed.write_text(seed.read_text() + "17,2,10.00,2024-03-22\n18,3,11.00,2024-03-23\n")
    log = catalog(product).load_table("gold.gold_orders_log")
    rows_before = log.scan().to_arrow().num_rows
    result = run(product)
    assert result.returncode == 0, result.stderr
    log = catalog(product).load_table("gold.gold_orders_log")
    assert log.current_snapshot().summary.operation.value == "append"
    assert log.scan().to_arrow().num_rows == rows_before + 2
    assert iceberg_rows(product, "gold.gold_orders_log") == duckdb_rows(product, "gold_orders_log")


def test_full_refresh_rewrites_incremental_tables_from_scratch(product):
    result = run(product, "--full-refresh")
    assert result.returncode == 0, result.stderr
    log = catalog(product).load_table("gold.gold_orders_log")
    assert log.current_snapshot().summary.operation.value == "overwrite"
    assert iceberg_rows(product, "gold.gold_orders_log") == duckdb_rows(product, "gold_orders_log")


def test_a_failing_model_fails_the_run_and_leaves_every_table_as_it_was(product):
    result, before = run_with_edit(product, "dbt/models/silver/silver_customer_orders.sql",
                                   "c.country", "c.no_such_column")
    assert result.returncode == 1
    assert "floe run failed at silver_customer_orders: model 'silver_customer_orders' failed" in result.stderr
    assert "no_such_column" in result.stderr  # dbt's own message
    assert "Traceback" not in result.stderr
    assert snapshots(product) == before
    # Lineage of the real failure: the model's job FAILed with dbt's message.
    events = [json.loads(line) for line in
              (product / ".floe" / "lineage" / "events.jsonl").read_text().splitlines()]
    failed = [e for e in events if e["eventType"] == "FAIL" and e["job"]["name"] == "shop.silver_customer_orders"]
    assert failed and "no_such_column" in failed[-1]["run"]["facets"]["errorMessage"]["message"]


def test_a_failing_dbt_test_names_the_model_and_the_test(product):
    result, before = run_with_edit(product, "dbt/seeds/raw_customers.csv", "2024-03-05\n",
                                   "2024-03-05\n5,Ken again,US,2024-03-06\n")
    assert result.returncode == 1
    assert ("test 'unique_bronze_customers_customer_id' on model 'bronze_customers' failed"
            in result.stderr)
    assert snapshots(product) == before


def test_a_new_column_evolves_the_table_schema_keeping_field_ids(product):
    model = product / "dbt/models/gold/gold_revenue_by_country.sql"
    table = catalog(product).load_table("gold.gold_revenue_by_country")
    ids = {f.name: f.field_id for f in table.schema().fields}
    model.write_text(model.read_text().replace("sum(amount) as revenue", "sum(amount) as revenue, "
                                               "max(amount) as largest_order"))
    result = run(product)
    assert result.returncode == 0, result.stderr
    table = catalog(product).load_table("gold.gold_revenue_by_country")
    fields = {f.name: f.field_id for f in table.schema().fields}
    assert {name: fields[name] for name in ids} == ids
    assert "largest_order" in fields
    assert iceberg_rows(product, "gold.gold_revenue_by_country") == duckdb_rows(product, "gold_revenue_by_country")


def test_a_type_change_iceberg_cannot_express_fails_naming_model_column_and_types(product):
    result, before = run_with_edit(product, "dbt/models/gold/gold_revenue_by_country.sql",
                                   "count(*) as orders", "cast(count(*) as varchar) as orders")
    assert result.returncode == 1
    assert "model 'gold_revenue_by_country'" in result.stderr
    assert "orders: long -> string" in result.stderr
    assert "The table was left unchanged" in result.stderr
    assert snapshots(product)["gold.gold_revenue_by_country"] == before["gold.gold_revenue_by_country"]


def test_a_second_concurrent_run_is_refused(product):
    with open(product / ".floe" / "run.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242")
        held.flush()
        result = run(product)
    assert result.returncode == 1
    assert "another floe run of this product is in progress (pid 4242)" in result.stderr


UI_RUN = """\
from dagster import AssetKey
from floe_plugin_orchestrator_dagster import FloeDefinitions

defs = FloeDefinitions.from_compiled_artifacts(".floe/compiled_artifacts.json")
job = defs.get_implicit_global_asset_job_def()
result = job.execute_in_process(asset_selection=[AssetKey("top_countries")])
print(result.run_id, "success" if result.success else "failed")
"""


def wait_for_a_blocked_flock(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Until the kernel lists a process waiting for the flock on ``path`` (``/proc/locks``)."""
    inode = f":{os.stat(path).st_ino} "
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()  # it must wait, not finish
        if any("->" in line and inode in line for line in Path("/proc/locks").read_text().splitlines()):
            return
        time.sleep(0.2)
    pytest.fail(f"nothing waited for {path} within {timeout} s")


def test_a_run_the_dagster_ui_launches_waits_for_a_floe_run_and_is_observed(product):
    # What `floe dev`'s run worker does: definitions from the artifacts, one asset materialized.
    before = snapshots(product)["gold.top_countries"]
    env = {**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    with open(product / ".floe" / "run.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a `floe run` in progress
        ui_run = subprocess.Popen([sys.executable, "-c", UI_RUN], cwd=product, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_a_blocked_flock(product / ".floe" / "run.lock", ui_run)
            assert snapshots(product)["gold.top_countries"] == before
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
    out, err = ui_run.communicate(timeout=120)
    assert ui_run.returncode == 0 and out.strip().endswith("success"), err[-3000:]
    assert snapshots(product)["gold.top_countries"] != before
    # Observed like a floe run: lineage under the Dagster run's id (no endpoint set: the file).
    run_id = out.split()[-2]
    events = [json.loads(line) for line in
              (product / ".floe" / "lineage" / "events.jsonl").read_text().splitlines()]
    mine = [(e["eventType"], e["job"]["name"]) for e in events
            if e["run"]["runId"] == run_id
            or e["run"].get("facets", {}).get("parent", {}).get("run", {}).get("runId") == run_id]
    assert ("START", "shop") in mine and ("COMPLETE", "shop") in mine
    assert ("COMPLETE", "shop.top_countries") in mine


def test_the_same_floe_yaml_runs_against_two_platforms_each_writing_its_own_catalog(tmp_path):
    product = tmp_path / "portable"
    scaffold(product, name="portable")
    other = product / "platform" / "staging"
    other.mkdir()
    local = (product / "platform/local/platform.yaml").read_text()
    other.joinpath("platform.yaml").write_text(
        local.replace("name: laptop", "name: staging")
             .replace("path: .floe/catalog.db", "path: .floe/staging/catalog.db")
             .replace("path: .floe/warehouse\n", "path: .floe/staging/warehouse\n")
             .replace("name: floe\n", "name: staging\n")
             .replace("threads: 2", "threads: 2\n    extensions: [httpfs]"))
    # Which DuckDB extensions each platform's compute profile loaded (from the PyPI wheels,
    # with no network): staging asks for httpfs, local for none.
    (product / "dbt/models/gold/gold_loaded_extensions.sql").write_text(
        "select extension_name from duckdb_extensions() where loaded and extension_name = 'httpfs'\n")
    floe_yaml = (product / "floe.yaml").read_bytes()
    for env in ("local", "staging"):
        result = run(product, "--env", env)
        assert result.returncode == 0, result.stderr
    assert (product / "floe.yaml").read_bytes() == floe_yaml
    local_cat = catalog(product)
    staging_cat = catalog(product, ".floe/staging/catalog.db", ".floe/staging/warehouse")
    for cat, root in ((local_cat, ".floe/warehouse"), (staging_cat, ".floe/staging/warehouse")):
        table = cat.load_table("gold.gold_revenue_by_country")
        assert table.metadata.location.startswith((product / root).as_uri())
    assert (local_cat.load_table("gold.top_countries").scan().to_arrow()
            == staging_cat.load_table("gold.top_countries").scan().to_arrow())
    loaded = {name: cat.load_table("gold.gold_loaded_extensions").scan().to_arrow().to_pylist()
              for name, cat in (("local", local_cat), ("staging", staging_cat))}
    assert loaded == {"local": [], "staging": [{"extension_name": "httpfs"}]}


FOREIGN_PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {name: laptop}
storage: {default: {type: local}}
catalogs: {default: {type: sqlite}}
compute: {default: {type: duckdb, path: .floe/warehouse.duckdb}}
"""


def test_a_dbt_project_floe_did_not_create_runs_with_only_floe_yaml_and_a_platform(tmp_path):
    project = tmp_path / "jaffle"
    shutil.copytree(Path(__file__).parent / "fixtures" / "foreign_dbt", project)
    (project / "floe.yaml").write_text("name: jaffle\nversion: '0.1.0'\ntransforms: [{path: .}]\n")
    (project / "platform" / "local").mkdir(parents=True)
    (project / "platform" / "local" / "platform.yaml").write_text(FOREIGN_PLATFORM)
    result = run(project)
    assert result.returncode == 0, result.stderr
    cat = catalog(project)
    # stg_orders is a view: views are not published, tables are, in the namespace of their folder.
    assert cat.list_tables("staging") == [("staging", "stg_customers")]
    assert cat.list_tables("marts") == [("marts", "customer_order_counts")]
    counts = cat.load_table("marts.customer_order_counts").scan().to_arrow().to_pylist()
    assert sorted((r["customer_id"], r["order_count"]) for r in counts) == [(1, 2), (2, 1), (3, 0)]
    # The project's own profiles.yml is left alone: floe hands dbt the platform's profile.
    assert (project / "profiles.yml").read_text() == (
        Path(__file__).parent / "fixtures" / "foreign_dbt" / "profiles.yml").read_text()
    assert not (project / "jaffle.duckdb").exists() and not (project / "target").exists()


def _wait_for_process_group(pgid: int, timeout: float) -> list[str]:
    """Until no process of group ``pgid`` is left; the command lines of those still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for status in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = status.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    left.append((status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def test_floe_dev_serves_the_assets_schedules_and_run_history(product):
    query = json.dumps({"query": """{
        assetNodes { assetKey { path } }
        repositoriesOrError { ... on RepositoryConnection {
            nodes { schedules { name cronSchedule executionTimezone } } } }
        runsOrError { ... on Runs { results { runId status } } }
    }"""}).encode()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Started as a shell starts a background job from a script, SIGINT ignored, and with SIGTERM
    # ignored as Dagster leaves it in such a process after an in-process run: floe dev must
    # still stop on SIGTERM, and stop its Dagster processes.
    server = subprocess.Popen([sys.executable, "-m", "floe", "dev", "--port", str(port)], cwd=product,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                              preexec_fn=_ignore_interrupts)
    try:
        data = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and server.poll() is None:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=query,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    data = json.load(response)["data"]
                if data["assetNodes"]:
                    break
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(2)
        assert data is not None, server.stderr.read1().decode() if server.poll() is not None else "no answer"
    finally:
        os.kill(server.pid, signal.SIGTERM)  # floe alone: it passes the signal on to Dagster
        try:
            server.wait(timeout=180)  # a hang guard: Dagster's processes stop slowly on a loaded machine
        finally:
            survivors = _wait_for_process_group(server.pid, timeout=60)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
    assert not survivors, f"still running after floe dev stopped: {survivors}"
    keys = {tuple(node["assetKey"]["path"]) for node in data["assetNodes"]}
    assert {("gold_revenue_by_country",), ("top_countries",), ("raw_orders",)} <= keys
    assert data["repositoriesOrError"]["nodes"][0]["schedules"] == [
        {"name": "daily_refresh", "cronSchedule": "0 6 * * *", "executionTimezone": "UTC"}]
    statuses = [run["status"] for run in data["runsOrError"]["results"]]
    assert "SUCCESS" in statuses and "FAILURE" in statuses  # the story's runs, both kinds


def test_sigterm_mid_run_leaves_no_half_written_table_and_no_lock(tmp_path):
    product = tmp_path / "killed"
    scaffold(product, name="killed")
    first = run(product)
    assert first.returncode == 0
    dbt_nodes = sum(line.startswith("  dbt ") for line in first.stderr.splitlines())
    old = {t: iceberg_rows(product, t) for t in TABLES if t != "gold.gold_orders_log"}
    seed = product / "dbt/seeds/raw_orders.csv"
    seed.write_text(seed.read_text() + "17,2,10.00,2024-03-22\n")
    process = subprocess.Popen([sys.executable, "-m", "floe", "run"], cwd=product, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Terminate when dbt reports its last node: publishing (which reports only once every
    # table committed) is about to start or under way.
    seen = 0
    for line in process.stderr:
        seen += line.startswith("  dbt ")
        if seen == dbt_nodes:
            process.send_signal(signal.SIGTERM)
            break
    rest = process.stderr.read()
    assert process.wait(timeout=120) != 0 and "succeeded" not in rest
    for table, rows in old.items():
        now = iceberg_rows(product, table)
        # Either the previous snapshot or the complete new one; never something in between.
        assert now == rows or now == duckdb_rows(product, table.split(".")[1]), table
    result = run(product)
    assert result.returncode == 0, result.stderr
