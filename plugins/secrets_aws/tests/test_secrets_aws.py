"""The aws secret backend: region, endpoint, prefix and cache settings."""

from __future__ import annotations

import pytest

from floe.plugins import PluginRegistry
from floe.testing import assert_plugin_conforms, resolve_section


def resolve(settings: dict):
    resolved, report = resolve_section("secrets", "aws", settings)
    return resolved, [str(d) for d in report.items]


def test_aws_honours_the_plugin_contract():
    assert_plugin_conforms(
        "secrets", "aws",
        valid=[{}, {"region": "eu-central-1", "endpoint": "https://secretsmanager.eu-central-1.amazonaws.com",
                    "prefix": "floe/prod/", "cache_seconds": 0},
               {"region": "us-gov-west-1", "endpoint": "http://localhost:5000"}],
        invalid=[({"region": "Europe"}, "region: 'Europe' is not an AWS region"),
                 ({"endpoint": "localhost:5000"}, "endpoint: 'localhost:5000' is not an http(s) URL"),
                 ({"prefix": "floe prod/"}, "prefix: 'floe prod/' is not a valid secret name prefix"),
                 ({"cache_seconds": -1}, "cache_seconds: cache_seconds must be 0 (no caching) or more"),
                 ({"cache_seconds": 1.5}, "cache_seconds: expected an integer"),
                 ({"profile": "prod"}, "unknown key 'profile'")],
    )


def test_the_entry_point_is_registered_by_this_distribution():
    plugin = PluginRegistry().load("secrets", "aws")
    assert plugin.provenance == {"distribution": "floe-plugin-secrets-aws", "version": "0.1.0"}


def test_defaults_leave_region_and_endpoint_to_the_environment():
    resolved, messages = resolve({})
    assert messages == []
    assert resolved.config == {"region": None, "endpoint": None, "prefix": "", "cache_seconds": 300}


def test_settings_resolve_as_written():
    resolved, messages = resolve({"region": "eu-central-1", "endpoint": "http://127.0.0.1:5000",
                                  "prefix": "floe/prod/", "cache_seconds": 60})
    assert messages == []
    assert resolved.config == {"region": "eu-central-1", "endpoint": "http://127.0.0.1:5000",
                               "prefix": "floe/prod/", "cache_seconds": 60}


def test_plain_http_to_a_remote_endpoint_is_a_warning():
    resolved, messages = resolve({"endpoint": "http://moto:5000"})
    assert resolved is not None
    assert messages == ["platform.yaml: warning: secrets.backends[0].endpoint: 'http://moto:5000' "
                        "is plain http: secret values would travel unencrypted to a host other "
                        "than this machine; use https"]


def test_a_key_in_the_endpoint_is_refused_without_echoing_it():
    resolved, messages = resolve({"endpoint": "https://AKIA:wJalrXUtnFEMI@sm.example.com"})
    assert resolved is None
    assert messages == ["platform.yaml: secrets.backends[0].endpoint: the URL contains a user "
                        "name or password; remove it and let the backend authenticate with the "
                        "AWS credentials of the environment"]


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "ap-southeast-5", "cn-north-1",
                                    "us-gov-west-1", "il-central-1"])
def test_real_region_names_are_accepted(region):
    resolved, messages = resolve({"region": region})
    assert messages == [] and resolved.config["region"] == region


@pytest.mark.parametrize("region", ["us-east", "US-EAST-1", "useast1", "us_east_1"])
def test_malformed_regions_are_refused(region):
    resolved, messages = resolve({"region": region})
    assert resolved is None
    assert messages == [f"platform.yaml: secrets.backends[0].region: '{region}' is not an AWS "
                        "region; write e.g. us-east-1 or eu-central-1, or leave region out to use "
                        "the environment's (AWS_REGION)"]
