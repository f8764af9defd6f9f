"""What storage and catalog plugins tell an engine that writes the tables itself.

Compute plugins receive these through ``RunContext.engine_storage_properties()`` and
``engine_catalog_properties()`` instead of reading another plugin's configuration; secrets stay
references, so nothing an engine is given holds a secret value.
"""

from __future__ import annotations

from floe.plugins import PluginRegistry
from floe.testing import resolve_section


def _engine_properties(kind: str, type_name: str, settings: dict) -> dict | None:
    resolved, report = resolve_section(kind, type_name, settings)
    assert resolved is not None, [str(d) for d in report.items]
    plugin = PluginRegistry().load(kind, type_name)
    return plugin.call("engine_properties", config=resolved.config, context=None)


def test_s3_storage_gives_endpoint_addressing_and_keys_as_references():
    properties = _engine_properties("storage", "s3", {
        "bucket": "lake", "path": "products", "region": "eu-west-1", "endpoint": "http://minio:9000",
        "path_style_access": True, "credentials": {
            "mode": "static", "access_key_id": {"secret_ref": "s3-keys", "key": "id"},
            "secret_access_key": {"secret_ref": "s3-keys", "key": "secret"}}})
    assert properties == {
        "warehouse": "s3://lake/products", "s3.endpoint": "http://minio:9000", "s3.region": "eu-west-1",
        "s3.path-style-access": "true",
        "s3.access-key-id": {"secret_ref": "s3-keys", "key": "id"},
        "s3.secret-access-key": {"secret_ref": "s3-keys", "key": "secret"}}


def test_s3_storage_without_static_keys_leaves_the_engine_its_own_credential_chain():
    properties = _engine_properties("storage", "s3", {"bucket": "lake", "credentials": {
        "mode": "iam_role", "role_arn": "arn:aws:iam::123456789012:role/floe"}})
    assert properties == {"warehouse": "s3://lake", "s3.path-style-access": "false"}


def test_a_rest_catalog_gives_its_uri_and_oauth2_client_with_the_secret_as_a_reference():
    properties = _engine_properties("catalog", "polaris", {
        "uri": "https://polaris.example.com/api/catalog", "warehouse": "prod",
        "access_delegation": "vended-credentials",
        "credentials": {"mode": "oauth2", "client_id": "floe", "client_secret": {"secret_ref": "polaris-oauth"},
                        "scope": "PRINCIPAL_ROLE:ALL"}})
    assert properties == {
        "type": "rest", "uri": "https://polaris.example.com/api/catalog", "warehouse": "prod",
        "oauth2-server-uri": "https://polaris.example.com/api/catalog/v1/oauth/tokens",
        "oauth2.client-id": "floe", "oauth2.client-secret": {"secret_ref": "polaris-oauth"},
        "scope": "PRINCIPAL_ROLE:ALL", "header.X-Iceberg-Access-Delegation": "vended-credentials"}


def test_a_catalog_in_a_local_file_offers_no_engine_properties():
    assert not PluginRegistry().load("catalog", "sqlite").implements("engine_properties")
