"""The k8s backend at run time: files under the mount root, one file per key in a volume."""

from __future__ import annotations

import os

import pytest

from floe.diagnostics import FloeError
from floe.plugins import PluginRegistry
from floe.schema.types import SecretRef

VALUE = "k8s-canary-7c1e9d"


@pytest.fixture
def k8s(tmp_path):
    """The installed plugin and a config whose root is a temp dir."""
    plugin = PluginRegistry().load("secrets", "k8s")
    config = {"root": str(tmp_path)}

    def lookup(name: str, key: str | None = None):
        return plugin.call("lookup", config=config, ref=SecretRef(name, key))

    def describe(name: str, key: str | None = None):
        return plugin.call("describe", config=config, ref=SecretRef(name, key))

    return lookup, describe


def test_a_secret_file_is_read_without_its_trailing_newline(k8s, tmp_path):
    lookup, _ = k8s
    (tmp_path / "polaris-oauth").write_text(VALUE + "\n")
    assert lookup("polaris-oauth").reveal() == VALUE


def test_a_key_is_one_file_of_the_secret_volume(k8s, tmp_path):
    lookup, _ = k8s
    (tmp_path / "polaris").mkdir()
    (tmp_path / "polaris" / "client-secret").write_text(VALUE)
    (tmp_path / "polaris" / "client-id").write_text("floe")
    assert lookup("polaris", "client-secret").reveal() == VALUE
    assert lookup("polaris", "client-id").reveal() == "floe"


def test_the_kubelets_atomic_writer_layout_is_followed(k8s, tmp_path):
    lookup, _ = k8s
    volume = tmp_path / "polaris"
    (volume / "..2026_11_21_10_00_00.123").mkdir(parents=True)
    (volume / "..2026_11_21_10_00_00.123" / "client-secret").write_text(VALUE)
    os.symlink("..2026_11_21_10_00_00.123", volume / "..data")
    os.symlink("..data/client-secret", volume / "client-secret")
    assert lookup("polaris", "client-secret").reveal() == VALUE


def test_an_absent_secret_or_key_is_a_miss_and_says_where_it_looked(k8s, tmp_path):
    lookup, describe = k8s
    (tmp_path / "polaris").mkdir()
    assert lookup("polaris-oauth") is None
    assert lookup("polaris", "client-secret") is None
    assert describe("polaris-oauth") == [f"{tmp_path}/polaris-oauth"]
    assert describe("polaris", "client-secret") == [f"{tmp_path}/polaris/client-secret"]


def test_a_volume_named_without_a_key_is_an_error_listing_its_keys(k8s, tmp_path):
    lookup, _ = k8s
    volume = tmp_path / "polaris"
    volume.mkdir()
    for key in ("client-secret", "client-id"):
        (volume / key).write_text(VALUE)
    (volume / "..data").mkdir()
    with pytest.raises(FloeError) as caught:
        lookup("polaris")
    assert str(caught.value) == (f"secret 'polaris': {volume} is a secret volume with the keys "
                                 "client-id, client-secret; name one in platform.yaml: "
                                 "{secret_ref: polaris, key: client-id}")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_an_error_not_a_miss(k8s, tmp_path):
    lookup, _ = k8s
    path = tmp_path / "polaris-oauth"
    path.write_text(VALUE)
    path.chmod(0)
    with pytest.raises(FloeError, match=f"^secret 'polaris-oauth': {path} exists but cannot be read "
                                        r"\(Permission denied\); check the volume's file mode"):
        lookup("polaris-oauth")
