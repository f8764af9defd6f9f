"""What a plugin author (and a user of their plugin) reads when something is wrong.

Each test runs the real ``floe`` in a child process over a fake installed distribution
(``plugin_sites``), so discovery, loading and the CLI's output are exactly what users get.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import floe_subprocess
from plugin_sites import add_distribution

from floe.plugins import PluginFailure, PluginRegistry, hookimpl
from floe.plugins import manager

PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
compute:
  default:
    type: {type}
    database: analytics
"""


def _validate(tmp_path: Path, type_name: str, source: str | None = None):
    site = tmp_path / "site"
    if source is not None:
        add_distribution(site, f"floe-plugin-compute-{type_name}", "1.2.0",
                         {"floe.compute": {type_name: f"{type_name}_plugin"}},
                         {f"{type_name}_plugin.py": source})
    platform = tmp_path / "platform.yaml"
    platform.write_text(PLATFORM.format(type=type_name))
    return floe_subprocess(["platform", "validate", platform], tmp_path, {"PYTHONPATH": str(site)})


def test_a_misspelled_hook_gets_did_you_mean_and_the_expected_signature_on_its_own_line(tmp_path):
    result = _validate(tmp_path, "typo", '''
        from floe.plugins import hookimpl

        @hookimpl
        def floe_compute_resolv(settings, context):
            return {"dbt_profile": {"type": "typo"}}
    ''')
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].endswith("compute.default.type: compute plugin 'typo' (floe-plugin-compute-typo "
                             "1.2.0) does not match floe's hook contract: unknown hook "
                             "'floe_compute_resolv' (did you mean 'floe_compute_resolve'?)")
    assert lines[1].endswith("compute.default.type:   expected: @hookimpl def floe_compute_resolve("
                             "settings: Any, context: ResolveContext) -> dict")
    assert "\\n" not in result.stderr and "Traceback" not in result.stderr


def test_a_hookimpl_argument_the_hook_lacks_shows_the_signature(tmp_path):
    result = _validate(tmp_path, "extra", '''
        from floe.plugins import hookimpl

        @hookimpl
        def floe_compute_resolve(settings, context, verbose):
            return {"dbt_profile": {"type": "extra"}}
    ''')
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].endswith("floe_compute_resolve takes 'verbose', which floe does not pass")
    assert lines[1].endswith("expected: @hookimpl def floe_compute_resolve(settings: Any, "
                             "context: ResolveContext) -> dict")
    assert "\\n" not in result.stderr


def test_a_missing_required_hook_shows_the_signature_to_add(tmp_path):
    result = _validate(tmp_path, "bare", '''
        from floe.plugins import hookimpl

        @hookimpl
        def floe_compute_settings():
            return None
    ''')
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].endswith("(floe-plugin-compute-bare 1.2.0) does not implement floe_compute_resolve")
    assert lines[1].endswith("expected: @hookimpl def floe_compute_resolve(settings: Any, "
                             "context: ResolveContext) -> dict")


def test_an_exception_inside_a_resolve_hook_is_reported_as_that_plugins_failure(tmp_path):
    result = _validate(tmp_path, "buggy", '''
        import attrs
        from floe.plugins import hookimpl

        @attrs.frozen
        class Settings:
            database: str

        @hookimpl
        def floe_compute_settings():
            return Settings

        @hookimpl
        def floe_compute_resolve(settings, context):
            return {"dbt_profile": {}}["missing-key"]
    ''')
    assert result.returncode == 1
    assert "internal error" not in result.stderr and "This is a bug" not in result.stderr
    line = result.stderr.strip().splitlines()[0]
    assert line.startswith(f"{tmp_path / 'platform.yaml'}:4:3: compute.default: compute plugin 'buggy' "
                           "(floe-plugin-compute-buggy 1.2.0) failed in floe_compute_resolve: "
                           "KeyError: 'missing-key'.")
    assert "report it to the maintainers of floe-plugin-compute-buggy" in line


def test_an_exception_inside_a_run_time_hook_names_plugin_distribution_and_hook(floe_registry):
    class Vault:
        @staticmethod
        @hookimpl
        def floe_secrets_resolve(settings, context):
            return {}

        @staticmethod
        @hookimpl
        def floe_secrets_lookup(config, ref):
            raise ConnectionResetError("vault.internal:8200 reset the connection")

    plugin = floe_registry.register("secrets", "vault", Vault, distribution="floe-plugin-secrets-vault",
                                    version="0.4.0")
    with pytest.raises(PluginFailure) as caught:
        plugin.call("lookup", config={}, ref=None)
    assert str(caught.value).startswith(
        "secrets plugin 'vault' (floe-plugin-secrets-vault 0.4.0) failed in floe_secrets_lookup: "
        "ConnectionResetError: vault.internal:8200 reset the connection.")
    assert caught.value.hook == "floe_secrets_lookup"
    assert isinstance(caught.value.error, ConnectionResetError)


def test_a_typo_in_a_type_suggests_the_installed_type_and_no_package(tmp_path):
    result = _validate(tmp_path, "duckdbb")
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[0]
    assert "no compute plugin 'duckdbb' is installed (did you mean 'duckdb'?)" in line
    assert "pip install" not in result.stderr


def test_an_unknown_type_never_invents_a_distribution_to_install(tmp_path):
    result = _validate(tmp_path, "vault-fil")
    assert result.returncode == 1
    assert "pip install" not in result.stderr
    assert "floe publishes no compute plugin of that name" in result.stderr
    assert "floe plugins list" in result.stderr


def test_a_type_floe_publishes_but_is_not_installed_names_its_distribution(monkeypatch):
    # Every published plugin is installed in the test environment; pretend one more exists.
    monkeypatch.setattr(manager, "PUBLISHED", manager.PUBLISHED | {("compute", "spark")})
    message = PluginRegistry().unknown_type_message("compute", "spark")
    assert message.endswith("To add it: pip install floe-plugin-compute-spark")
    assert "pip install" not in PluginRegistry().unknown_type_message("compute", "sparkk")


def test_every_published_plugin_is_an_in_tree_distribution_of_that_name():
    # The names floe suggests to `pip install` are distributions this repository builds.
    import tomllib

    root = Path(__file__).resolve().parent.parent
    built = {tomllib.loads(p.read_text())["project"]["name"] for p in root.glob("plugins/*/pyproject.toml")}
    assert {manager.distribution_name(kind, type_name) for kind, type_name in manager.PUBLISHED} == built
