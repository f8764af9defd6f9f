"""The polaris catalog plugin: REST properties with secret references, never secret values."""

from __future__ import annotations

import json

import pytest

from floe.plugins import PluginRegistry
from floe.testing import assert_plugin_conforms, resolve_section

OAUTH2 = {"mode": "oauth2", "client_id": "floe-service-account",
          "client_secret": {"secret_ref": "polaris-oauth"}, "scope": "PRINCIPAL_ROLE:DATA_ENGINEER"}
MINIMAL = {"uri": "https://polaris:8181/api/catalog", "warehouse": "prod", "credentials": OAUTH2}


def resolve(settings: dict):
    resolved, report = resolve_section("catalog", "polaris", settings)
    return resolved, [str(d) for d in report.items]


def test_polaris_honours_the_plugin_contract():
    assert_plugin_conforms(
        "catalog", "polaris",
        valid=[MINIMAL,
               {**MINIMAL, "access_delegation": "remote-signing", "token_refresh_enabled": False,
                "tls": {"ca_bundle": "/etc/ssl/polaris-ca.pem"},
                "timeouts": {"connect_seconds": 2.5, "read_seconds": 120}, "retries": 0}],
        invalid=[({"warehouse": "prod", "credentials": OAUTH2}, "missing required key"),
                 ({**MINIMAL, "uri": "polaris:8181"}, "uri: 'polaris:8181' is not an http(s) URL"),
                 ({**MINIMAL, "uri": "https://polaris/api?x=1"}, "has a query or fragment"),
                 ({**MINIMAL, "warehouse": "  "}, "warehouse: expected the name of a Polaris catalog"),
                 ({**MINIMAL, "access_delegation": "vended"},
                  "access_delegation: 'vended' is not one of vended-credentials, remote-signing"),
                 ({**MINIMAL, "retries": 11}, "retries: retries must be between 0 and 10, got 11"),
                 ({**MINIMAL, "timeouts": {"read_seconds": 0}},
                  "timeouts.read_seconds: a timeout must be more than 0 and at most 3600 seconds"),
                 ({**MINIMAL, "tls": {"verify": "no"}}, "tls.verify: expected true or false"),
                 ({**MINIMAL, "token_refresh": True}, "unknown key 'token_refresh' (did you mean "
                                                      "'token_refresh_enabled'?)")],
    )


def test_the_entry_point_is_registered_by_this_distribution():
    plugin = PluginRegistry().load("catalog", "polaris")
    assert plugin.provenance == {"distribution": "floe-plugin-catalog-polaris", "version": "0.1.0"}


def test_seed_profile_resolves_to_rest_catalog_properties():
    resolved, messages = resolve({**MINIMAL, "access_delegation": "vended-credentials",
                                  "token_refresh_enabled": True})
    assert messages == []
    assert resolved.config == {
        "type": "rest",
        "uri": "https://polaris:8181/api/catalog",
        "warehouse": "prod",
        "credentials": {"mode": "oauth2", "client_id": "floe-service-account",
                        "client_secret": {"secret_ref": "polaris-oauth"},
                        "scope": "PRINCIPAL_ROLE:DATA_ENGINEER"},
        "scope": "PRINCIPAL_ROLE:DATA_ENGINEER",
        "oauth2_server_uri": "https://polaris:8181/api/catalog/v1/oauth/tokens",
        "token_refresh_enabled": True,
        "access_delegation": "vended-credentials",
        "headers": {"X-Iceberg-Access-Delegation": "vended-credentials"},
        "tls": {"verify": True, "ca_bundle": None},
        "timeouts": {"connect_seconds": 10.0, "read_seconds": 60.0},
        "retries": 3,
    }


def test_without_delegation_no_header_is_sent_and_scope_may_be_unset():
    credentials = {k: v for k, v in OAUTH2.items() if k != "scope"}
    resolved, messages = resolve({**MINIMAL, "credentials": credentials})
    assert messages == []
    assert resolved.config["headers"] == {}
    assert resolved.config["access_delegation"] is None
    assert resolved.config["scope"] is None


def test_an_explicit_token_endpoint_wins():
    credentials = {**OAUTH2, "token_endpoint": "https://idp.example.com/oauth2/token"}
    resolved, _ = resolve({**MINIMAL, "credentials": credentials})
    assert resolved.config["oauth2_server_uri"] == "https://idp.example.com/oauth2/token"
    assert resolved.config["credentials"]["token_endpoint"] == "https://idp.example.com/oauth2/token"


def test_a_literal_client_secret_is_refused_without_echoing_it():
    resolved, messages = resolve({**MINIMAL, "credentials": {**OAUTH2, "client_secret": "hunter2-s3cret"}})
    assert resolved is None
    assert messages == [
        "platform.yaml: catalogs.default.credentials.client_secret: a literal value is not allowed "
        "in a sensitive field; reference a secret instead: {secret_ref: <name>} (the value is read "
        "at run time from the secret backends)"]
    assert "hunter2" not in "".join(messages)


def test_resolved_config_holds_references_never_values():
    credentials = {**OAUTH2, "client_id": {"secret_ref": "polaris", "key": "client-id"},
                   "client_secret": {"secret_ref": "polaris", "key": "client-secret"}}
    resolved, _ = resolve({**MINIMAL, "credentials": credentials})
    assert resolved.config["credentials"]["client_id"] == {"secret_ref": "polaris", "key": "client-id"}
    assert resolved.config["credentials"]["client_secret"] == {"secret_ref": "polaris",
                                                               "key": "client-secret"}
    json.dumps(resolved.config, allow_nan=False)


def test_missing_credentials_say_what_to_write():
    resolved, messages = resolve({"uri": "https://polaris:8181/api/catalog", "warehouse": "prod"})
    assert resolved is None
    assert messages == [
        "platform.yaml: catalogs.default.credentials: a polaris catalog needs OAuth2 client "
        "credentials; add credentials: {mode: oauth2, client_id: <client id>, client_secret: "
        "{secret_ref: <secret name>}}"]


@pytest.mark.parametrize("credentials", [
    {"mode": "static", "access_key_id": "AKIA", "secret_access_key": {"secret_ref": "s3"}},
    {"mode": "iam_role", "role_arn": "arn:aws:iam::123456789012:role/Catalog"},
    {"mode": "vended_credentials"},
])
def test_other_credential_modes_are_refused_at_mode(credentials):
    resolved, messages = resolve({**MINIMAL, "credentials": credentials})
    assert resolved is None
    assert messages == [
        f"platform.yaml: catalogs.default.credentials.mode: a polaris catalog cannot use credentials "
        f"mode '{credentials['mode']}'; Polaris issues tokens for OAuth2 client credentials: write "
        "credentials: {mode: oauth2, client_id: <client id>, client_secret: {secret_ref: <secret name>}}"]


def test_plain_http_to_a_remote_host_is_a_warning():
    resolved, messages = resolve({**MINIMAL, "uri": "http://polaris:8181/api/catalog"})
    assert resolved is not None
    assert messages == [
        "platform.yaml: warning: catalogs.default.uri: 'http://polaris:8181/api/catalog' is plain "
        "http: the OAuth2 client secret and tokens travel unencrypted to a host other than this "
        "machine; use https"]


@pytest.mark.parametrize("uri", ["http://localhost:8181/api/catalog", "http://127.0.0.1:8181/api/catalog",
                                 "http://[::1]:8181/api/catalog"])
def test_plain_http_on_this_machine_is_fine(uri):
    resolved, messages = resolve({**MINIMAL, "uri": uri})
    assert resolved is not None and messages == []


def test_a_password_in_the_uri_is_refused_without_echoing_it():
    resolved, messages = resolve({**MINIMAL, "uri": "https://floe:hunter2@polaris/api/catalog"})
    assert resolved is None
    assert messages == [
        "platform.yaml: catalogs.default.uri: the URL contains a user name or password; remove it "
        "and authenticate with credentials: {mode: oauth2, client_id: <client id>, client_secret: "
        "{secret_ref: <secret name>}}"]


def test_tls_verification_off_is_warned_and_contradictions_refused():
    resolved, messages = resolve({**MINIMAL, "tls": {"verify": False}})
    assert resolved.config["tls"] == {"verify": False, "ca_bundle": None}
    assert messages == [
        "platform.yaml: warning: catalogs.default.tls.verify: certificate verification is off: "
        "anyone on the network path can impersonate the catalog; prefer a ca_bundle"]
    resolved, messages = resolve({**MINIMAL, "tls": {"verify": False, "ca_bundle": "/ca.pem"}})
    assert resolved is None
    assert messages == ["platform.yaml: catalogs.default.tls.ca_bundle: ca_bundle has no effect "
                        "while verify is false; remove one of them"]


@pytest.mark.parametrize("missing", ["uri", "warehouse"])
def test_uri_and_warehouse_are_required(missing):
    resolved, messages = resolve({k: v for k, v in MINIMAL.items() if k != missing})
    assert resolved is None
    assert len(messages) == 1
    assert "missing required key" in messages[0] and missing in messages[0]
