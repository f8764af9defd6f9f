"""The trino compute plugin at compile time: its settings, the dbt-trino target, its errors."""

from __future__ import annotations

import subprocess
import sys

from floe.plugins import PluginRegistry
from floe.testing import assert_plugin_conforms, resolve_section
from floe_plugin_compute_trino.catalog_file import iceberg_catalog

BASE = {"host": "trino.example.com", "catalog": "lake"}


def resolve(settings: dict):
    resolved, report = resolve_section("compute", "trino", settings)
    return resolved, [str(d) for d in report.items]


def test_trino_honours_the_plugin_contract():
    assert_plugin_conforms(
        "compute", "trino",
        valid=[BASE, {**BASE, "port": 8443, "threads": 8, "schema": "dbt_scratch",
                      "session_properties": {"query_max_run_time": "2h",
                                             "iceberg.compression_codec": "ZSTD"}}],
        invalid=[({"catalog": "lake"}, "missing required key 'host'"),
                 ({**BASE, "host": "https://trino:8080"}, "is not a host name"),
                 ({**BASE, "port": 0}, "port must be between 1 and 65535"),
                 ({**BASE, "threads": 0}, "threads must be at least 1"),
                 ({**BASE, "catalog": "Lake-1"}, "is not a Trino name floe can use"),
                 ({**BASE, "http_scheme": "ftp"}, "http_scheme"),
                 ({**BASE, "session_properties": {"bad name": 1}}, "is not a Trino session property"),
                 ({**BASE, "credentials": {"mode": "static", "access_key_id": "a",
                                           "secret_access_key": {"secret_ref": "k"}}},
                  "a trino compute profile cannot use credentials mode 'static'")],
    )


def test_the_profile_resolves_to_a_dbt_trino_target_on_the_named_catalog():
    resolved, messages = resolve({**BASE, "port": 8443, "user": "etl", "threads": 3})
    assert messages == []
    assert resolved.config == {"dbt_profile": {
        "type": "trino", "method": "none", "host": "trino.example.com", "port": 8443,
        "http_scheme": "https", "user": "etl", "database": "lake", "schema": "floe_build",
        "threads": 3}}


def test_a_password_stays_a_secret_reference_and_selects_ldap():
    resolved, messages = resolve({**BASE, "credentials": {
        "mode": "password", "user": "svc_floe", "password": {"secret_ref": "trino-password"}}})
    assert messages == []
    profile = resolved.config["dbt_profile"]
    assert (profile["method"], profile["user"], profile["password"]) == (
        "ldap", "svc_floe", {"secret_ref": "trino-password"})


def test_a_jwt_stays_a_secret_reference():
    resolved, _ = resolve({**BASE, "credentials": {"mode": "jwt", "token": {"secret_ref": "trino-jwt"}}})
    assert resolved.config["dbt_profile"]["method"] == "jwt"
    assert resolved.config["dbt_profile"]["jwt_token"] == {"secret_ref": "trino-jwt"}


OAUTH2 = {"mode": "oauth2", "client_id": "floe", "client_secret": {"secret_ref": "trino-oauth"},
          "token_endpoint": "https://idp.example.com/oauth/token", "scope": "trino"}


def test_oauth2_selects_dbt_trinos_jwt_method_and_keeps_only_references():
    resolved, messages = resolve({**BASE, "credentials": OAUTH2})
    assert messages == []
    profile = resolved.config["dbt_profile"]
    # The token is obtained at run time: the compiled target holds none, nor the client secret.
    assert profile["method"] == "jwt" and profile["jwt_token"] == "obtained-at-run-time-by-oauth2"
    assert {"secret_ref": "trino-oauth"} not in profile.values()
    assert resolved.config["credentials"] == OAUTH2


def test_oauth2_without_a_token_endpoint_is_refused_at_its_path():
    _, messages = resolve({**BASE, "credentials": {k: v for k, v in OAUTH2.items() if k != "token_endpoint"}})
    assert any("compute.default.credentials.token_endpoint: a trino compute profile's oauth2 credentials need the "
               "identity provider's token endpoint" in m for m in messages), messages


def test_oauth2_with_a_literal_client_secret_is_refused_without_echoing_it():
    _, messages = resolve({**BASE, "credentials": {**OAUTH2, "client_secret": "s3cr3t-value"}})
    assert any("client_secret" in m and "secret_ref" in m for m in messages), messages
    assert not any("s3cr3t-value" in m for m in messages)


def test_oauth2_tokens_over_plain_http_to_another_host_are_refused():
    _, messages = resolve({**BASE, "http_scheme": "http", "credentials": OAUTH2})
    assert any("http_scheme: Trino accepts passwords and tokens only over https" in m
               for m in messages), messages


def test_a_ca_bundle_becomes_dbt_trinos_cert():
    resolved, messages = resolve({**BASE, "ca_bundle": "certs/ca.pem"})
    assert messages == []
    assert resolved.config["dbt_profile"]["cert"] == "certs/ca.pem"
    _, messages = resolve({**BASE, "ca_bundle": " "})
    assert any("ca_bundle: expected the path of a PEM file" in m for m in messages), messages


def test_a_literal_password_is_refused():
    _, messages = resolve({**BASE, "credentials": {"mode": "password", "password": "hunter2"}})
    assert any("password" in m and "secret" in m for m in messages), messages
    assert not any("hunter2" in m for m in messages)


def test_a_password_over_plain_http_to_another_host_is_refused():
    _, messages = resolve({**BASE, "http_scheme": "http", "credentials": {
        "mode": "password", "password": {"secret_ref": "trino-password"}}})
    assert any("http_scheme: Trino accepts passwords and tokens only over https" in m
               for m in messages), messages


def test_the_engine_writes_the_tables():
    plugin = PluginRegistry().load("compute", "trino")
    assert plugin.call("writes_tables", config={}) is True
    assert not plugin.implements("reader")


def test_the_entry_points_are_registered_by_this_distribution():
    registry = PluginRegistry()
    assert registry.load("compute", "trino").provenance == {
        "distribution": "floe-plugin-compute-trino", "version": "0.1.0"}
    assert registry.load("credentials", "password").distribution == "floe-plugin-compute-trino"


def test_the_trino_catalog_file_follows_the_platforms_catalog_and_storage():
    secrets = {"polaris-oauth": "s3cr3t", "s3-secret": "sk"}

    def secret(value):
        return secrets[value["secret_ref"]] if isinstance(value, dict) else value

    properties = iceberg_catalog(
        {"type": "rest", "uri": "https://polaris:8181/api/catalog", "warehouse": "prod",
         "oauth2-server-uri": "https://polaris:8181/api/catalog/v1/oauth/tokens", "scope": "PRINCIPAL_ROLE:ALL",
         "oauth2.client-id": "floe", "oauth2.client-secret": {"secret_ref": "polaris-oauth"},
         "header.X-Iceberg-Access-Delegation": "vended-credentials"},
        {"warehouse": "s3://lake/products", "s3.endpoint": "http://minio:9000", "s3.region": "eu-west-1",
         "s3.path-style-access": "true", "s3.access-key-id": "ak", "s3.secret-access-key": {"secret_ref": "s3-secret"}},
        secret)
    assert properties == {
        "connector.name": "iceberg", "iceberg.catalog.type": "rest",
        "iceberg.rest-catalog.uri": "https://polaris:8181/api/catalog",
        "iceberg.rest-catalog.warehouse": "prod", "iceberg.rest-catalog.security": "OAUTH2",
        "iceberg.rest-catalog.oauth2.credential": "floe:s3cr3t",
        "iceberg.rest-catalog.oauth2.server-uri": "https://polaris:8181/api/catalog/v1/oauth/tokens",
        "iceberg.rest-catalog.oauth2.scope": "PRINCIPAL_ROLE:ALL",
        "iceberg.rest-catalog.vended-credentials-enabled": "true",
        "fs.native-s3.enabled": "true", "s3.endpoint": "http://minio:9000", "s3.region": "eu-west-1",
        "s3.path-style-access": "true", "s3.aws-access-key": "ak", "s3.aws-secret-key": "sk"}


def test_a_catalog_only_floe_can_open_is_named():
    import pytest

    from floe.diagnostics import FloeError

    with pytest.raises(FloeError, match="Trino opens an Iceberg REST catalog"):
        iceberg_catalog(None, {"warehouse": "s3://lake"}, str)


def test_compile_time_imports_neither_dbt_nor_the_trino_client():
    code = ("import sys, floe_plugin_compute_trino.plugin, floe_plugin_compute_trino.credentials; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dbt', 'trino')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
