"""The production-shaped path: a Polaris (Iceberg REST) catalog with OAuth2 and S3 storage.

No Polaris server can be installed on these machines: tests/support/iceberg_rest.py stands in
for it on 127.0.0.1 (REST protocol, OAuth2 client credentials, expiring tokens), keeping its
tables in moto's S3 server, also on 127.0.0.1. The scaffolded product's floe.yaml runs, byte for
byte unchanged, against the embedded default and against this stack.
"""

from __future__ import annotations

import socket

import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.catalog.sql import SqlCatalog

from conftest import floe_subprocess
from support.stack import loopback_stack

from floe.init import scaffold

CLIENT_SECRET = "polaris-client-secret-for-tests"
SCOPE = "PRINCIPAL_ROLE:DATA_ENGINEER"
TABLES = ["bronze.bronze_customers", "bronze.bronze_orders", "silver.silver_customer_orders",
          "gold.gold_revenue_by_country", "gold.top_countries"]

PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {{name: prod-like, version: "2.0.0"}}
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
    warehouse: {warehouse}
    credentials:
      mode: oauth2
      client_id: floe
      client_secret: {{secret_ref: polaris-oauth}}
      scope: "{scope}"
    access_delegation: vended-credentials
    timeouts: {{connect_seconds: 2, read_seconds: 20}}
    retries: 2
compute:
  default: {{type: duckdb, path: .floe/warehouse.duckdb, threads: 2, memory_limit: 2GB}}
orchestrator: {{type: dagster}}
secrets: {{backends: [env]}}
data_architecture: {{pattern: medallion, naming: {{enforcement: warn}}}}
governance:
  quality_gates: {{minimum_test_coverage: 80, block_on_failure: false}}
  approved_plugins: {{compute: [duckdb]}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """moto's S3 and the REST catalog, both on 127.0.0.1, for this module."""
    with loopback_stack(tmp_path_factory.mktemp("polaris"), CLIENT_SECRET, (SCOPE,),
                        token_seconds=3) as running:
        yield running


def _product(tmp_path, stack, **overrides):
    product = tmp_path / "shop"
    scaffold(product, name="shop")
    values = {"s3": stack["endpoint"], "uri": stack["server"].url, "warehouse": "prod", "scope": SCOPE}
    values.update(overrides)
    (product / "platform" / "prod").mkdir()
    (product / "platform" / "prod" / "platform.yaml").write_text(PLATFORM.format(**values))
    return product


def _env(stack, secret=CLIENT_SECRET):
    return {"POLARIS_OAUTH": secret, "S3_KEYS_ACCESS_KEY_ID": stack["keys"]["aws_access_key_id"],
            "S3_KEYS_SECRET_ACCESS_KEY": stack["keys"]["aws_secret_access_key"],
            "AWS_EC2_METADATA_DISABLED": "true"}


def _rest_client(stack):
    return RestCatalog("check", uri=stack["server"].url, warehouse="prod", scope=SCOPE,
                       credential=f"floe:{CLIENT_SECRET}",
                       **{"oauth2-server-uri": stack["server"].url + "/v1/oauth/tokens"}, **stack["fileio"])


def _rows(catalog, table):
    return sorted(tuple(row.values()) for row in catalog.load_table(table).scan().to_arrow().to_pylist())


def test_the_same_floe_yaml_runs_on_the_embedded_default_and_on_rest_plus_s3(tmp_path, stack):
    product = _product(tmp_path, stack)
    # Which DuckDB secrets dbt's connection has: the platform's S3 storage becomes one.
    (product / "dbt/models/gold/gold_duckdb_secrets.sql").write_text(
        "select type, provider from duckdb_secrets()\n")
    floe_yaml = (product / "floe.yaml").read_bytes()
    server = stack["server"]
    tokens_before = server.token_requests
    local = floe_subprocess(["run", "--env", "local"], product, timeout=300)
    assert local.returncode == 0, local.stderr
    prod = floe_subprocess(["run", "--env", "prod"], product, env=_env(stack), timeout=300)
    assert prod.returncode == 0, prod.stderr
    assert (product / "floe.yaml").read_bytes() == floe_yaml
    embedded = SqlCatalog("floe", uri=f"sqlite:///{product / '.floe/catalog.db'}",
                          warehouse=(product / ".floe/warehouse").as_uri())
    rest = _rest_client(stack)
    for table in TABLES:
        assert _rows(rest, table) == _rows(embedded, table), table
        assert rest.load_table(table).metadata.location.startswith("s3://lake/polaris/")
    # The client asked for vended credentials on every table it loaded, with a bearer token.
    loads = [headers for method, path, headers in server.requests if "/tables/" in path]
    assert loads and all(h.get("x-iceberg-access-delegation") == "vended-credentials" for h in loads)
    assert all(h["authorization"].startswith("Bearer ") for h in loads)
    # Tokens live 3 s here, so a run of several seconds had to refresh them and still completed.
    assert server.token_requests - tokens_before >= 2
    assert CLIENT_SECRET not in prod.stdout + prod.stderr
    secrets = {name: cat.load_table("gold.gold_duckdb_secrets").scan().to_arrow().to_pylist()
               for name, cat in (("local", embedded), ("prod", rest))}
    assert secrets == {"local": [], "prod": [{"type": "s3", "provider": "config"}]}


def test_rejected_credentials_fail_before_dbt_starts_naming_the_principal(tmp_path, stack):
    product = _product(tmp_path, stack)
    result = floe_subprocess(["run", "--env", "prod"], product, env=_env(stack, secret="wrong"), timeout=120)
    assert result.returncode == 1
    assert ("the Polaris catalog at " + stack["server"].url + " refused the OAuth2 credentials of "
            f"principal 'floe' with scope '{SCOPE}'") in result.stderr
    assert "dbt      " not in result.stderr and "wrong" not in result.stderr
    assert not (product / ".floe" / "warehouse.duckdb").exists()


def test_an_unknown_warehouse_is_named(tmp_path, stack):
    product = _product(tmp_path, stack, warehouse="staging")
    result = floe_subprocess(["run", "--env", "prod"], product, env=_env(stack), timeout=120)
    assert result.returncode == 1
    assert "has no warehouse 'staging'" in result.stderr
    assert "dbt      " not in result.stderr


def test_an_unreachable_catalog_fails_fast_before_dbt(tmp_path, stack):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens here once the probe is closed
    product = _product(tmp_path, stack, uri=f"http://127.0.0.1:{closed}/api/catalog")
    result = floe_subprocess(["run", "--env", "prod"], product, env=_env(stack), timeout=120)
    assert result.returncode == 1
    assert f"the Polaris catalog at http://127.0.0.1:{closed}/api/catalog is unreachable" in result.stderr
    assert "dbt      " not in result.stderr


def test_floe_diff_shows_only_infrastructure_changed_between_environments(tmp_path, stack, run_cli):
    product = _product(tmp_path, stack)
    result = run_cli(["diff", "--env", "local", "--env", "prod"], cwd=product)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == ["--- --env local", "+++ --env prod"]
    assert '  profiles.catalog.type: "sqlite" -> "polaris"' in lines
    assert ("  profiles.catalog.config.credentials.client_secret: (absent) -> {secret_ref: polaris-oauth}"
            in lines)
    assert '  profiles.storage.config.bucket: (absent) -> "lake"' in lines
    sections = [line for line in lines if not line.startswith(("  ", "---", "+++"))]
    assert sections and all("(infrastructure," in line for line in sections), sections
    assert CLIENT_SECRET not in result.output
    same = run_cli(["diff", "--env", "prod", "--env", "prod"], cwd=product)
    assert same.stdout.strip() == "no differences between --env prod and --env prod"


def test_a_catalog_answering_503_is_retried_and_the_run_completes(tmp_path, stack):
    product = _product(tmp_path, stack)
    server = stack["server"]
    server.unavailable, before = 2, server.unavailable_answered
    result = floe_subprocess(["run", "--env", "prod"], product, env=_env(stack), timeout=300)
    assert result.returncode == 0, result.stderr
    assert server.unavailable_answered - before == 2
