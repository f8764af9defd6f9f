"""The aws backend at run time, against moto's Secrets Manager on 127.0.0.1 (real HTTP)."""

from __future__ import annotations

import json
import socket

import pytest

from floe.diagnostics import FloeError
from floe.plugins import PluginRegistry
from floe.schema.types import SecretRef
from floe_plugin_secrets_aws import runtime

VALUE = "aws-canary-5d20b7e4"


@pytest.fixture
def aws(floe_moto):
    """The installed plugin, a Secrets Manager client on moto, and an empty value cache."""
    import boto3

    runtime.clear_cache()
    plugin = PluginRegistry().load("secrets", "aws")
    client = boto3.client("secretsmanager", endpoint_url=floe_moto)

    def call(verb: str, name: str, key: str | None = None, **config):
        config = {"region": "us-east-1", "endpoint": floe_moto, "prefix": "", "cache_seconds": 300,
                  **config}
        return plugin.call(verb, config=config, ref=SecretRef(name, key))

    yield call, client, floe_moto
    runtime.clear_cache()


def test_a_plain_string_secret(aws):
    call, client, _ = aws
    client.create_secret(Name="polaris-oauth", SecretString=VALUE)
    assert call("lookup", "polaris-oauth").reveal() == VALUE


def test_a_key_selects_one_field_of_a_json_secret(aws):
    call, client, _ = aws
    client.create_secret(Name="polaris", SecretString=json.dumps({"client-id": "floe",
                                                                  "client-secret": VALUE, "port": 8181}))
    assert call("lookup", "polaris", "client-secret").reveal() == VALUE
    assert call("lookup", "polaris", "client-id").reveal() == "floe"
    assert call("lookup", "polaris", "port").reveal() == "8181"


def test_the_prefix_is_part_of_the_secret_id(aws):
    call, client, _ = aws
    client.create_secret(Name="floe/prod/polaris-oauth", SecretString=VALUE)
    assert call("lookup", "polaris-oauth", prefix="floe/prod/").reveal() == VALUE
    assert call("lookup", "polaris-oauth") is None


def test_an_absent_secret_or_key_is_a_miss_that_names_the_secret_id(aws):
    call, client, endpoint = aws
    client.create_secret(Name="polaris", SecretString=json.dumps({"client-id": "floe"}))
    assert call("lookup", "nope") is None
    assert call("lookup", "polaris", "client-secret") is None
    assert call("describe", "polaris", "client-secret", prefix="floe/") == [
        f"key 'client-secret' of AWS Secrets Manager secret 'floe/polaris' in us-east-1 at {endpoint}"]
    assert call("describe", "nope", region=None, endpoint=None) == [
        "AWS Secrets Manager secret 'nope' in the environment's region"]


def test_a_key_of_a_secret_that_is_not_json_is_an_error_without_the_value(aws):
    call, client, endpoint = aws
    client.create_secret(Name="polaris", SecretString=VALUE)
    with pytest.raises(FloeError) as caught:
        call("lookup", "polaris", "client-secret")
    assert str(caught.value) == (
        f"secret 'polaris' (key 'client-secret'): AWS Secrets Manager secret 'polaris' in us-east-1 "
        f"at {endpoint} is not a JSON object, so it has no key 'client-secret'; store it as JSON "
        '({"client-secret": "..."}) or leave key out in platform.yaml')


def test_values_are_cached_for_cache_seconds(aws):
    call, client, _ = aws
    client.create_secret(Name="polaris", SecretString=json.dumps({"client-secret": "first"}))
    assert call("lookup", "polaris", "client-secret").reveal() == "first"
    client.put_secret_value(SecretId="polaris", SecretString=json.dumps({"client-secret": "rotated"}))
    # Both keys of one JSON secret come from one fetch, and the fetch is reused ...
    assert call("lookup", "polaris", "client-secret").reveal() == "first"
    # ... unless the platform turned caching off.
    assert call("lookup", "polaris", "client-secret", cache_seconds=0).reveal() == "rotated"


def test_a_binary_secret_holding_text_is_read(aws):
    call, client, _ = aws
    client.create_secret(Name="cert-key", SecretBinary=VALUE.encode())
    assert call("lookup", "cert-key").reveal() == VALUE


def test_an_unreachable_endpoint_is_an_error_naming_it(aws):
    call, _, _ = aws
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FloeError) as caught:
        call("lookup", "polaris", endpoint=f"http://127.0.0.1:{port}")
    assert str(caught.value) == (
        f"AWS Secrets Manager secret 'polaris' in us-east-1 at http://127.0.0.1:{port}: cannot reach "
        f"Secrets Manager at http://127.0.0.1:{port} (EndpointConnectionError); check endpoint and "
        "region in secrets.backends and the network")


def test_missing_aws_credentials_are_an_error_that_says_how_to_provide_them(aws, monkeypatch):
    call, _, _ = aws
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(FloeError, match="^AWS Secrets Manager secret 'polaris' in us-east-1 at "
                                        r"http://127\.0\.0\.1:\d+: no AWS credentials to call Secrets "
                                        "Manager with; give the process a role"):
        call("lookup", "polaris")
