"""Secrets in DuckDB settings: references at compile time, env_var() in dbt's profile at run time."""

from __future__ import annotations

from floe.testing import resolve_section


def resolve(settings: dict):
    resolved, report = resolve_section("compute", "duckdb", settings)
    return resolved, [str(d) for d in report.items]


def test_a_setting_may_reference_a_secret_and_resolves_to_the_reference():
    resolved, messages = resolve({"settings": {
        "s3_access_key_id": {"secret_ref": "s3-keys", "key": "access-key-id"},
        "s3_secret_access_key": {"secret_ref": "s3-keys", "key": "secret-access-key"},
        "s3_region": "eu-central-1"}})
    assert messages == []
    assert resolved.config["dbt_profile"]["settings"] == {
        "s3_access_key_id": {"secret_ref": "s3-keys", "key": "access-key-id"},
        "s3_region": "eu-central-1",
        "s3_secret_access_key": {"secret_ref": "s3-keys", "key": "secret-access-key"}}


def test_a_literal_value_for_a_secret_setting_is_refused_without_echoing_it():
    resolved, messages = resolve({"settings": {"http_proxy_password": "hunter2-literal",
                                               "motherduck_token": "tok-literal"}})
    assert resolved is None
    assert messages == [
        f"platform.yaml: compute.default.settings.{name}: '{name}' holds a secret: a literal value "
        "is not allowed; reference a secret instead: {secret_ref: <name>} (read at run time from "
        "the secret backends)" for name in ("http_proxy_password", "motherduck_token")]


def test_a_malformed_reference_is_reported_at_its_setting():
    resolved, messages = resolve({"settings": {"http_proxy_password": {"secret_ref": "../etc/passwd"}}})
    assert resolved is None
    assert messages == ["platform.yaml: compute.default.settings.http_proxy_password: secret_ref "
                        "'../etc/passwd' looks like a path; a secret reference is a name such as "
                        "'polaris-oauth' (backends decide where it is stored)"]
