"""The plugin authors' test kit (floe.testing) checks run-time hooks, not only compile time.

Real parts: the env and k8s secret backends read a real environment and real files, the s3
storage connects to the session's moto server, the sqlite catalog writes an Iceberg table
into a temporary warehouse and reads it back with pyiceberg.
"""

from __future__ import annotations

import boto3
import pytest

from floe.plugins import hookimpl
from floe.runtime import RunContext
from floe.runtime.secrets import SecretValue
from floe.testing import (assert_plugin_conforms, assert_secret_backend_round_trip, connect_catalog,
                          connect_storage, run_context)


class _CompileOnlyStorage:
    @staticmethod
    @hookimpl
    def floe_storage_resolve(settings, context):
        return {"warehouse": "mem://x"}


def test_a_plugin_without_the_run_time_hook_its_kind_needs_fails_the_conformance_check(floe_registry):
    floe_registry.register("storage", "compile-only", _CompileOnlyStorage)
    with pytest.raises(AssertionError) as caught:
        assert_plugin_conforms("storage", "compile-only", valid=[{}], registry=floe_registry)
    message = str(caught.value)
    assert "storage plugin 'compile-only' does not implement what `floe run` needs:" in message
    assert "expected: @hookimpl def floe_storage_connect(config: dict, context: RunContext) -> dict" in message


def test_the_env_backend_round_trips_a_secret_and_describes_where_it_looked(monkeypatch):
    monkeypatch.setenv("SHOP_DB", "s3cr3t-value")
    monkeypatch.setenv("POLARIS_CLIENT_SECRET", "key-value")
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    monkeypatch.delenv("NO_SUCH_SECRET_FILE", raising=False)
    assert_secret_backend_round_trip("env", {}, present={"shop-db": "s3cr3t-value",
                                                         "polaris#client-secret": "key-value"},
                                     missing=["no-such-secret"])


def test_the_k8s_backend_round_trips_a_mounted_secret(tmp_path):
    (tmp_path / "shop-db").write_text("mounted-value\n")
    (tmp_path / "polaris").mkdir()
    (tmp_path / "polaris" / "client-secret").write_text("key-in-dir")
    assert_secret_backend_round_trip("k8s", {"root": str(tmp_path)},
                                     present={"shop-db": "mounted-value", "polaris#client-secret": "key-in-dir"},
                                     missing=["absent"])


def test_a_backend_that_returns_a_bare_string_fails_the_round_trip(floe_registry):
    class Leaky:
        @staticmethod
        @hookimpl
        def floe_secrets_resolve(settings, context):
            return {}

        @staticmethod
        @hookimpl
        def floe_secrets_lookup(config, ref):
            return "plain-string" if ref.secret_ref == "there" else None

    floe_registry.register("secrets", "leaky", Leaky)
    with pytest.raises(AssertionError, match="must return a floe.runtime.secrets.SecretValue"):
        assert_secret_backend_round_trip("leaky", {}, present={"there": "plain-string"}, registry=floe_registry)


def test_local_storage_connects_to_a_warehouse_under_the_product(tmp_path):
    storage = connect_storage("local", {"path": "data/warehouse"}, tmp_path)
    assert storage["warehouse"] == (tmp_path / "data" / "warehouse").resolve().as_uri()


def test_s3_storage_connects_on_the_fixtures_moto_server_and_a_catalog_writes_through_it(
        tmp_path, floe_moto, monkeypatch):
    s3 = boto3.client("s3", endpoint_url=floe_moto, region_name="us-east-1")
    s3.create_bucket(Bucket="kit-lake")
    monkeypatch.setenv("KIT_S3", "testing")
    settings = {"bucket": "kit-lake", "region": "us-east-1", "endpoint": floe_moto, "path_style_access": True,
                "credentials": {"mode": "static", "access_key_id": "testing",
                                "secret_access_key": {"secret_ref": "kit-s3"}}}
    storage = connect_storage("s3", settings, tmp_path)
    assert storage["warehouse"] == "s3://kit-lake"
    assert storage["properties"]["s3.endpoint"] == floe_moto
    connect_catalog("sqlite", {"path": ".floe/s3-catalog.db"}, tmp_path, storage=("s3", settings))
    written = [o["Key"] for o in s3.list_objects_v2(Bucket="kit-lake").get("Contents", [])]
    assert any(key.endswith(".parquet") for key in written), written


def test_the_sqlite_catalog_connects_and_round_trips_a_table(tmp_path):
    catalog = connect_catalog("sqlite", {"path": ".floe/kit-catalog.db"}, tmp_path,
                              storage=("local", {"path": ".floe/warehouse"}))
    assert catalog.load_table("floe_test_kit.round_trip").scan().to_arrow().num_rows == 2
    assert (tmp_path / ".floe" / "kit-catalog.db").is_file()


def test_run_context_gives_hooks_a_real_run_context(tmp_path):
    context = run_context(tmp_path, storage=("local", {}))
    assert isinstance(context, RunContext) and context.product_dir == tmp_path.resolve()


def test_every_import_path_docs_plugins_md_gives_imports():
    import importlib
    import re

    from conftest import ROOT

    text = (ROOT / "docs" / "plugins.md").read_text()
    imports = re.findall(r"`from ([\w.]+) import ([\w, ]+)`", text)
    assert len(imports) >= 10
    for module, names in imports:
        loaded = importlib.import_module(module)
        for name in (n.strip() for n in names.split(",")):
            assert hasattr(loaded, name), f"docs/plugins.md: from {module} import {name} fails"
