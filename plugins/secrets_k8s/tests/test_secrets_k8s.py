"""The k8s secret backend: an absolute mount root, nothing else."""

from __future__ import annotations

import pytest

from floe.plugins import PluginRegistry
from floe.testing import assert_plugin_conforms, resolve_section


def test_k8s_honours_the_plugin_contract():
    assert_plugin_conforms(
        "secrets", "k8s",
        valid=[{}, {"root": "/mnt/secrets"}],
        invalid=[({"root": "secrets"}, "root: 'secrets' must be an absolute directory"),
                 ({"root": ""}, "root: expected an absolute directory"),
                 ({"root": 5}, "root: expected a string"),
                 ({"path": "/x"}, "unknown key 'path'")],
    )


def test_the_entry_point_is_registered_by_this_distribution():
    plugin = PluginRegistry().load("secrets", "k8s")
    assert plugin.provenance == {"distribution": "floe-plugin-secrets-k8s", "version": "0.1.0"}


def test_default_root_is_the_kubernetes_mount():
    resolved, report = resolve_section("secrets", "k8s", {})
    assert report.items == []
    assert resolved.config == {"root": "/var/run/secrets"}


def test_root_is_normalised():
    resolved, _ = resolve_section("secrets", "k8s", {"root": "/mnt//floe/secrets/"})
    assert resolved.config == {"root": "/mnt/floe/secrets"}


@pytest.mark.parametrize("root", ["./secrets", "var/run/secrets", "/var/run/../../etc", "/mnt/.."])
def test_relative_roots_and_parent_steps_are_refused(root):
    resolved, report = resolve_section("secrets", "k8s", {"root": root})
    assert resolved is None
    assert [str(d) for d in report.items] == [
        f"platform.yaml: secrets.backends[0].root: '{root}' must be an absolute directory without "
        "'..', e.g. /var/run/secrets"]
