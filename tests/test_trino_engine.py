"""The same dbt project on two engines, against Apache Iceberg's own REST catalog server.

Real servers on 127.0.0.1, no stand-ins: moto's S3, Iceberg's reference REST catalog
(RESTCatalogServer, tables in moto's S3) and a single-node Trino 476 whose Iceberg connector
opens that catalog. On DuckDB floe publishes the tables; on Trino the engine writes them. The
rows are compared with plain pyiceberg.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
from pathlib import Path
from typing import Iterator

import pytest

from conftest import floe_subprocess
from support import jvm_servers, unavailable

FIXTURES = Path(__file__).parent / "fixtures"
CLIENT_SECRET = "reference-catalog-client-secret"
KEYS = {"aws_access_key_id": "floe-test", "aws_secret_access_key": "floe-test-secret"}
BUCKET = "lake"

PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {{name: {name}}}
storage:
  default:
    type: s3
    bucket: lake
    path: products
    region: us-east-1
    endpoint: {s3}
    path_style_access: true
    credentials:
      mode: static
      access_key_id: {{secret_ref: s3-keys, key: access-key-id}}
      secret_access_key: {{secret_ref: s3-keys, key: secret-access-key}}
catalogs:
  default:
    type: polaris
    uri: {uri}
    warehouse: s3://lake/products
    credentials: {{mode: oauth2, client_id: floe, client_secret: {{secret_ref: catalog-oauth}}}}
compute:
  default: {compute}
secrets: {{backends: [env]}}
"""
DUCKDB = "{type: duckdb, path: .floe/warehouse.duckdb, threads: 2}"
TRINO = "{{type: trino, host: 127.0.0.1, port: {port}, http_scheme: http, catalog: lake, threads: 2}}"


def _require_servers() -> None:
    missing = jvm_servers.available()
    if missing:
        unavailable(f"the JVM servers cannot start: {missing}")


@contextlib.contextmanager
def servers(work: Path) -> Iterator[dict]:
    """moto's S3, Iceberg's REST catalog server on it, and Trino on that catalog, under ``work``.

    Yields ``{"s3", "uri", "trino", "trino_catalog"}``: the S3 endpoint, the catalog's URI,
    :func:`support.jvm_servers.trino_server`'s description of Trino and the properties of its
    Iceberg catalog (for another Trino on the same catalog).
    """
    import boto3
    from moto.server import ThreadedMotoServer

    from floe_plugin_compute_trino.catalog_file import iceberg_catalog

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        s3 = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=s3, region_name="us-east-1", **KEYS).create_bucket(Bucket=BUCKET)
        java_s3 = {"CATALOG_IO__IMPL": "org.apache.iceberg.aws.s3.S3FileIO", "CATALOG_S3_ENDPOINT": s3,
                   "CATALOG_S3_PATH__STYLE__ACCESS": "true", "AWS_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": KEYS["aws_access_key_id"],
                   "AWS_SECRET_ACCESS_KEY": KEYS["aws_secret_access_key"]}
        with jvm_servers.iceberg_rest_server(work / "rest", f"s3://{BUCKET}/products", java_s3) as uri:
            # Trino's catalog file from the same properties floe's plugins give an engine.
            storage = {"warehouse": f"s3://{BUCKET}/products", "s3.endpoint": s3, "s3.region": "us-east-1",
                       "s3.path-style-access": "true", "s3.access-key-id": KEYS["aws_access_key_id"],
                       "s3.secret-access-key": KEYS["aws_secret_access_key"]}
            catalog = {"type": "rest", "uri": uri, "warehouse": f"s3://{BUCKET}/products"}
            properties = iceberg_catalog(catalog, storage, str)
            with jvm_servers.trino_server({"lake": properties}, work / "trino") as trino:
                yield {"s3": s3, "uri": uri, "trino": trino, "trino_catalog": properties}
    finally:
        moto.stop()


@pytest.fixture(scope="session")
def lake(tmp_path_factory):
    """The servers of :func:`servers`, started once a session."""
    _require_servers()
    with servers(tmp_path_factory.mktemp("jvm")) as running:
        yield running


def _env():
    return {"CATALOG_OAUTH": CLIENT_SECRET, "S3_KEYS_ACCESS_KEY_ID": KEYS["aws_access_key_id"],
            "S3_KEYS_SECRET_ACCESS_KEY": KEYS["aws_secret_access_key"], "AWS_EC2_METADATA_DISABLED": "true"}


def _product(tmp_path: Path, lake: dict) -> Path:
    product = tmp_path / "jaffle"
    shutil.copytree(FIXTURES / "foreign_dbt", product)
    (product / "floe.yaml").write_text("name: jaffle\nversion: '0.1.0'\ntransforms: [{path: .}]\n")
    for env, compute in (("duckdb", DUCKDB), ("trino", TRINO.format(port=lake["trino"]["port"]))):
        (product / "platform" / env).mkdir(parents=True)
        (product / "platform" / env / "platform.yaml").write_text(
            PLATFORM.format(name=env, s3=lake["s3"], uri=lake["uri"], compute=compute))
    return product


def _catalog(lake: dict):
    from pyiceberg.catalog.rest import RestCatalog

    return RestCatalog("check", uri=lake["uri"], **{
        "s3.endpoint": lake["s3"], "s3.region": "us-east-1", "s3.force-virtual-addressing": "false",
        "s3.access-key-id": KEYS["aws_access_key_id"], "s3.secret-access-key": KEYS["aws_secret_access_key"]})


def _rows(catalog, table: str) -> list[tuple]:
    return sorted(tuple(row.values()) for row in catalog.load_table(table).scan().to_arrow().to_pylist())


TABLES = ("staging.stg_customers", "marts.customer_order_counts")


def test_a_foreign_dbt_project_gives_the_same_rows_on_duckdb_and_on_trino(tmp_path, lake):
    product = _product(tmp_path, lake)
    duck = floe_subprocess(["run", "--env", "duckdb"], product, env=_env(), timeout=600)
    assert duck.returncode == 0, duck.stderr
    # Iceberg's own REST server cannot create tables inside a multi-table commit: the first
    # run's new tables are created right after it, and the run says so.
    assert "2 new table(s) created right after it" in duck.stderr, duck.stderr
    catalog = _catalog(lake)
    on_duckdb = {table: _rows(catalog, table) for table in TABLES}
    duck_snapshots = {t: catalog.load_table(t).current_snapshot().snapshot_id for t in TABLES}
    assert on_duckdb["marts.customer_order_counts"] == [(1, 2), (2, 1), (3, 0)]

    trino = floe_subprocess(["run", "--env", "trino"], product, env=_env(), timeout=600)
    assert trino.returncode == 0, trino.stderr
    catalog = _catalog(lake)
    assert {table: _rows(catalog, table) for table in TABLES} == on_duckdb
    for table in TABLES:
        # Trino wrote a new table in the same namespace: not floe's DuckDB snapshot any more.
        assert catalog.load_table(table).current_snapshot().snapshot_id != duck_snapshots[table]
        # The run summary names each table the same way whichever engine ran.
        assert f"publish  {table}" in duck.stderr and f"publish  {table}" in trino.stderr, trino.stderr
    # Views and seeds stay in the dbt target's schema; only table models land in their layer.
    assert catalog.list_tables("staging") == [("staging", "stg_customers")]
    assert CLIENT_SECRET not in trino.stdout + trino.stderr
    # The closing summary and the run log have the same shape and the same tables and rows.
    assert _summary(trino.stdout) == _summary(duck.stdout) == {
        "staging.stg_customers": 3, "marts.customer_order_counts": 3}, (duck.stdout, trino.stdout)
    on_trino, on_duck = _runs(product)
    assert on_trino.keys() == on_duck.keys()
    assert [t.keys() for t in on_trino["tables"]] == [t.keys() for t in on_duck["tables"]]
    assert ({t["table"]: t["rows"] for t in on_trino["tables"]}
            == {t["table"]: t["rows"] for t in on_duck["tables"]})
    assert on_trino["status"] == on_duck["status"] == "success"


def test_the_trino_overhead_bench_runs_at_a_tiny_size(lake):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import trino_overhead

    platform = PLATFORM.format(name="trino", s3=lake["s3"], uri=lake["uri"],
                               compute=TRINO.format(port=lake["trino"]["port"]))
    result = trino_overhead.measure(lake, _env(), platform, models=2, rows=100, runs=1)
    assert result["floe"] > 0 and result["dbt"] > 0
    catalog = _catalog(lake)
    # floe placed the bench's table models in their layers; plain dbt built them in its schema.
    assert ("silver", "silver_customers_0") in catalog.list_tables("silver")
    assert ("plain", "silver_customers_0") in catalog.list_tables("plain")


LOCAL_PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {{name: laptop-rest}}
storage: {{default: {{type: local}}}}
catalogs:
  default:
    type: polaris
    uri: {uri}
    warehouse: local
    credentials: {{mode: oauth2, client_id: floe, client_secret: {{secret_ref: catalog-oauth}}}}
compute:
  default: {{type: duckdb, path: .floe/warehouse.duckdb, threads: 2}}
secrets: {{backends: [env]}}
"""


def test_floe_publishes_through_the_reference_rest_catalog_over_a_local_warehouse(tmp_path):
    _require_servers()
    from pyiceberg.catalog.rest import RestCatalog

    warehouse = tmp_path / "warehouse"
    with jvm_servers.iceberg_rest_server(tmp_path / "rest", warehouse.as_uri()) as uri:
        product = tmp_path / "jaffle"
        shutil.copytree(FIXTURES / "foreign_dbt", product)
        (product / "floe.yaml").write_text("name: jaffle\nversion: '0.1.0'\ntransforms: [{path: .}]\n")
        (product / "platform" / "local").mkdir(parents=True)
        (product / "platform" / "local" / "platform.yaml").write_text(LOCAL_PLATFORM.format(uri=uri))
        result = floe_subprocess(["run"], product, env={"CATALOG_OAUTH": CLIENT_SECRET}, timeout=600)
        assert result.returncode == 0, result.stderr
        catalog = RestCatalog("check", uri=uri)
        table = catalog.load_table("marts.customer_order_counts")
        assert _rows(catalog, "marts.customer_order_counts") == [(1, 2), (2, 1), (3, 0)]
        assert table.metadata.location.startswith(warehouse.as_uri())


# -- incremental models, a schema change and failures, on Trino ---------------------------------
# One product, four successive `floe run`s on the session's Trino (each run costs seconds of
# Trino time on a small machine, so one product covers every case in order).

LEDGER_PROJECT = """\
name: ledger
version: "1.0.0"
config-version: 2
profile: ledger
models:
  ledger:
    +materialized: table
"""
#: The rows the incremental models read; each run delivers a new batch.
BATCH = "select * from (values {rows}) as t (id, v)"
LEDGER = {
    "models/bronze_batch.sql": "{{ config(materialized='view') }}\n" + BATCH.format(rows="(1, 'a'), (2, 'b')"),
    # A unique_key: floe's plan merges on it (upsert), as on DuckDB.
    "models/silver_events_merged.sql": "{{ config(materialized='incremental', unique_key='id') }}\n"
                                       "select id, v from {{ ref('bronze_batch') }}\n",
    # No key: each run's rows are appended.
    "models/silver_events_log.sql": "{{ config(materialized='incremental') }}\n"
                                    "select id, v from {{ ref('bronze_batch') }}\n",
    "models/gold_wide.sql": "select 1 as a, 'x' as b\n",
    "models/gold_event_count.sql": "select count(*) as n from {{ ref('silver_events_merged') }}\n",
}


def _ledger(tmp_path: Path, lake: dict) -> Path:
    product = tmp_path / "ledger"
    for relative, text in LEDGER.items():
        (product / relative).parent.mkdir(parents=True, exist_ok=True)
        (product / relative).write_text(text)
    (product / "dbt_project.yml").write_text(LEDGER_PROJECT)
    (product / "floe.yaml").write_text("name: ledger\nversion: '0.1.0'\ntransforms: [{path: .}]\n")
    (product / "platform" / "local").mkdir(parents=True)
    (product / "platform" / "local" / "platform.yaml").write_text(PLATFORM.format(
        name="trino", s3=lake["s3"], uri=lake["uri"], compute=TRINO.format(port=lake["trino"]["port"])))
    return product


def _snapshots(catalog, tables) -> dict[str, int]:
    return {t: catalog.load_table(t).current_snapshot().snapshot_id for t in tables}


def _summary(stdout: str) -> dict[str, int]:
    """The closing table of `floe run`: table -> rows."""
    return {fields[0]: int(fields[1]) for fields in map(str.split, stdout.splitlines())
            if len(fields) == 3 and fields[1].isdigit()}


def _runs(product: Path) -> list[dict]:
    import json

    listed = floe_subprocess(["runs", "--format", "json"], product)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


LEDGER_TABLES = ("silver.silver_events_merged", "silver.silver_events_log", "gold.gold_wide",
                 "gold.gold_event_count")


def test_incremental_models_a_schema_change_and_failures_on_trino(tmp_path, lake):
    """What a product's successive runs do on an engine that writes its own tables.

    1. first run: every table created in its layer;
    2. a new batch: the merge model upserts on its key, the append model appends, and a
       column added to a table model appears in its Iceberg schema;
    3. a failing model: exit 1 naming it; its table keeps its snapshot, but Trino has already
       committed the tables dbt built before (no all-or-nothing on this engine, as documented);
    4. a failing dbt test: exit 1 naming test and model; the tested table is already written,
       the model downstream of it is skipped and keeps its snapshot.
    """
    product = _ledger(tmp_path, lake)
    first = floe_subprocess(["run"], product, env=_env(), timeout=600)
    assert first.returncode == 0, first.stderr
    catalog = _catalog(lake)
    assert _rows(catalog, "silver.silver_events_merged") == [(1, "a"), (2, "b")]
    assert _rows(catalog, "silver.silver_events_log") == [(1, "a"), (2, "b")]
    assert _rows(catalog, "gold.gold_wide") == [(1, "x")]

    # -- 2: a new batch, and gold_wide gains a column
    (product / "models/bronze_batch.sql").write_text(
        "{{ config(materialized='view') }}\n" + BATCH.format(rows="(2, 'B'), (3, 'c')"))
    (product / "models/gold_wide.sql").write_text("select 1 as a, 'x' as b, 2.5 as c\n")
    second = floe_subprocess(["run"], product, env=_env(), timeout=600)
    assert second.returncode == 0, second.stderr
    catalog = _catalog(lake)
    assert _rows(catalog, "silver.silver_events_merged") == [(1, "a"), (2, "B"), (3, "c")]
    assert _rows(catalog, "silver.silver_events_log") == [(1, "a"), (2, "B"), (2, "b"), (3, "c")]
    wide = catalog.load_table("gold.gold_wide")
    assert [f.name for f in wide.schema().fields] == ["a", "b", "c"]
    assert _rows(catalog, "gold.gold_wide") == [(1, "x", 2.5)]
    assert _rows(catalog, "gold.gold_event_count") == [(3,)]
    # As on DuckDB: an appending model reports the rows it appended, the others the table's rows.
    assert "publish  silver.silver_events_log" in second.stderr and " 2 rows" in second.stderr
    assert _summary(second.stdout) == {"silver.silver_events_merged": 3, "silver.silver_events_log": 2,
                       "gold.gold_wide": 1, "gold.gold_event_count": 1}, second.stdout
    before = _snapshots(catalog, LEDGER_TABLES)

    # -- 3: a failing model, beside a new batch
    (product / "models/bronze_batch.sql").write_text(
        "{{ config(materialized='view') }}\n" + BATCH.format(rows="(4, 'd')"))
    (product / "models/gold_wide.sql").write_text("select no_such_column as a\n")
    broken = floe_subprocess(["run"], product, env=_env(), timeout=600)
    assert broken.returncode == 1, broken.stderr
    assert "floe run failed at gold_wide: model 'gold_wide' failed" in broken.stderr, broken.stderr
    assert "no_such_column" in broken.stderr
    catalog = _catalog(lake)
    after = _snapshots(catalog, LEDGER_TABLES)
    # The failing model's table is as it was ...
    assert after["gold.gold_wide"] == before["gold.gold_wide"]
    assert _rows(catalog, "gold.gold_wide") == [(1, "x", 2.5)]
    # ... but Trino committed each table dbt built before the failure: they are not rolled back.
    for table in ("silver.silver_events_merged", "silver.silver_events_log", "gold.gold_event_count"):
        assert after[table] != before[table], table
    assert _rows(catalog, "silver.silver_events_merged") == [(1, "a"), (2, "B"), (3, "c"), (4, "d")]
    # The run says so: the tables it wrote are listed although it failed.
    written = set(_summary(broken.stdout))
    assert written == {"silver.silver_events_merged", "silver.silver_events_log",
                       "gold.gold_event_count"}, broken.stdout
    before = after

    # -- 4: a failing dbt test on silver_events_merged; gold_event_count depends on it
    (product / "models/gold_wide.sql").write_text("select 1 as a, 'x' as b, 2.5 as c\n")
    (product / "models/schema.yml").write_text(
        "version: 2\nmodels:\n  - name: silver_events_merged\n    columns:\n      - name: v\n"
        "        tests: [{accepted_values: {values: [a, B, c]}}]\n")
    (product / "models/bronze_batch.sql").write_text(
        "{{ config(materialized='view') }}\n" + BATCH.format(rows="(5, 'e')"))
    failing = floe_subprocess(["run"], product, env=_env(), timeout=600)
    assert failing.returncode == 1, failing.stderr
    assert ("floe run failed at silver_events_merged: test 'accepted_values_silver_events_merged_v"
            in failing.stderr), failing.stderr
    assert "on model 'silver_events_merged' failed" in failing.stderr
    catalog = _catalog(lake)
    after = _snapshots(catalog, LEDGER_TABLES)
    # The tested table was written before its test ran; the model downstream was skipped.
    assert after["silver.silver_events_merged"] != before["silver.silver_events_merged"]
    assert after["gold.gold_event_count"] == before["gold.gold_event_count"]
    assert _rows(catalog, "gold.gold_event_count") == [(4,)]

    # `floe runs` tells the four runs apart as it does on DuckDB.
    runs = _runs(product)
    assert [r["status"] for r in runs] == ["failed", "failed", "success", "success"]
    assert [r["failed_asset"] for r in runs] == ["silver_events_merged", "gold_wide", None, None]
    assert {t["table"] for t in runs[1]["tables"]} == written
    assert {t["table"]: t["mode"] for t in runs[2]["tables"]} == {
        "silver.silver_events_merged": "merge", "silver.silver_events_log": "append",
        "gold.gold_wide": "overwrite", "gold.gold_event_count": "overwrite"}
    assert CLIENT_SECRET not in "".join(r.stdout + r.stderr for r in (first, second, broken, failing))


# -- OAuth2 client credentials, on a Trino that authenticates with JWTs --------------------------

TRINO_CLIENT_SECRET = "trino-client-secret-value"
OAUTH2_TRINO = ("{{type: trino, host: 127.0.0.1, port: {port}, http_scheme: https, catalog: lake, "
                "threads: 1, ca_bundle: {ca}, credentials: {{mode: oauth2, client_id: floe-etl, "
                "client_secret: {{secret_ref: trino-oauth}}, token_endpoint: {token}, scope: trino}}}}")


@contextlib.contextmanager
def jwt_trino(work: Path, lake: dict) -> Iterator[dict]:
    """A second Trino on the session's catalog, HTTPS with JWT authentication, and a token
    endpoint that issues its JWTs for client credentials.

    Yields ``{"port", "ca", "token_url", "idp", "issuer"}`` (HTTPS port, CA file, the endpoint,
    the :class:`support.iceberg_rest.RestCatalogServer` serving it, the
    :class:`support.jwt_issuer.JwtIssuer`).
    """
    import secrets

    from support import free_port
    from support.iceberg_rest import RestCatalogServer
    from support.jwt_issuer import JwtIssuer
    from support.tls import mint_ca

    ca = mint_ca(work / "tls", "trino")
    # Trino reads a PEM key store: the private key and the certificate in one file.
    keystore = work / "tls" / "keystore.pem"
    keystore.write_text(ca.server_key.read_text() + ca.server_cert.read_text())
    issuer = JwtIssuer(work / "jwt")
    idp = RestCatalogServer(None, warehouse="none", client_id="floe-etl", client_secret=TRINO_CLIENT_SECRET,
                            scopes=("trino",), token_factory=issuer.mint).start()
    port = free_port()
    config = {"http-server.https.enabled": "true", "http-server.https.port": str(port),
              "http-server.https.keystore.path": str(keystore),
              "http-server.authentication.type": "JWT",
              "http-server.authentication.jwt.key-file": str(issuer.public_key),
              # The start-up check asks plain HTTP; every authenticated client comes over HTTPS.
              "http-server.authentication.allow-insecure-over-http": "true",
              "internal-communication.shared-secret": secrets.token_urlsafe(32)}
    try:
        with jvm_servers.trino_server({"lake": lake["trino_catalog"]}, work / "trino", config=config):
            yield {"port": port, "ca": ca.ca_cert, "token_url": f"{idp.url}/v1/oauth/tokens",
                   "idp": idp, "issuer": issuer}
    finally:
        idp.stop()


def _status_without_token(port: int, ca: Path) -> int:
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"https://127.0.0.1:{port}/v1/statement", data=b"select 1",
                                     headers={"X-Trino-User": "floe"}, method="POST")
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=ca), timeout=30):
            return 200
    except urllib.error.HTTPError as exc:
        return exc.code


def test_oauth2_client_credentials_reach_trino_as_a_jwt_and_nowhere_else(tmp_path, lake):
    """``credentials: {mode: oauth2}`` on a Trino compute profile, end to end.

    Trino (HTTPS, JWT authentication with an RSA key) refuses a client without a token; floe
    obtains one from a real token endpoint on 127.0.0.1 by the client-credentials grant, dbt-trino
    sends it with its ``jwt`` method, and the model's table lands in the catalog with Trino's
    user the token's subject. Neither the client secret nor the token is in any output or in
    any file of the product; a wrong secret fails the run naming the endpoint and the client.
    """
    with jwt_trino(tmp_path / "jwt-trino", lake) as trino:
        assert _status_without_token(trino["port"], trino["ca"]) == 401
        product = tmp_path / "signed"
        (product / "models").mkdir(parents=True)
        (product / "models" / "gold_signed_in.sql").write_text("select current_user as who\n")
        (product / "dbt_project.yml").write_text(
            "name: signed\nversion: '1.0.0'\nconfig-version: 2\nprofile: signed\n"
            "models: {signed: {+materialized: table}}\n")
        (product / "floe.yaml").write_text("name: signed\nversion: '0.1.0'\ntransforms: [{path: .}]\n")
        (product / "platform" / "local").mkdir(parents=True)
        (product / "platform" / "local" / "platform.yaml").write_text(PLATFORM.format(
            name="trino-jwt", s3=lake["s3"], uri=lake["uri"], compute=OAUTH2_TRINO.format(
                port=trino["port"], ca=trino["ca"], token=trino["token_url"])))
        # The Trino client's requests session prefers $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE over
        # the profile's ca_bundle (as its README says); this machine sets both to its system store.
        env = {**_env(), "TRINO_OAUTH": TRINO_CLIENT_SECRET, "REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": ""}
        result = floe_subprocess(["run"], product, env=env, timeout=600)
        assert result.returncode == 0, result.stderr
        assert _rows(_catalog(lake), "gold.gold_signed_in") == [("floe",)]
        assert trino["idp"].token_requests >= 1 and trino["issuer"].minted

        import yaml

        profiles = yaml.safe_load((product / ".floe/dbt/transform_0/run/profiles.yml").read_text())
        target = profiles["signed"]["outputs"]["floe"]
        assert (target["method"], target["jwt_token"]) == (
            "jwt", "{{ env_var('DBT_ENV_SECRET_FLOE_OBTAINED_TRINO_OAUTH2_TOKEN') }}")
        hidden = [TRINO_CLIENT_SECRET, *trino["issuer"].minted]
        for value in hidden:
            assert value not in result.stdout + result.stderr
            for path in product.rglob("*"):
                if path.is_file():
                    assert value.encode() not in path.read_bytes(), path

        refused = floe_subprocess(["run"], product, env={**env, "TRINO_OAUTH": "wrong-client-secret"},
                                  timeout=600)
        assert refused.returncode == 1
        assert (f"the token endpoint {trino['token_url']} refused client 'floe-etl' (HTTP 401: "
                "invalid_client") in refused.stderr, refused.stderr
        assert "wrong-client-secret" not in refused.stdout + refused.stderr
