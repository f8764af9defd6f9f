"""Plugin discovery and loading, through real entry points in a child process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import floe_subprocess
from plugin_sites import GOOD_COMPUTE, add_distribution

from floe.plugins import PluginError, PluginRegistry, hookimpl
from floe.plugins.manager import check_plugin

PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
compute:
  default:
    type: {type}
    database: analytics
"""


def _platform(tmp_path: Path, type_name: str) -> Path:
    path = tmp_path / "platform.yaml"
    path.write_text(PLATFORM.format(type=type_name))
    return path


def test_plugins_list_shows_kind_type_distribution_and_version(tmp_path):
    site = tmp_path / "site"
    add_distribution(site, "floe-plugin-compute-testengine", "2.5.0",
                     {"floe.compute": {"testengine": "testengine_plugin"}},
                     {"testengine_plugin.py": GOOD_COMPUTE})
    result = floe_subprocess(["plugins", "list", "--format", "json"], tmp_path, {"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {"kind": "compute", "type": "testengine", "distribution": "floe-plugin-compute-testengine",
            "version": "2.5.0", "target": "testengine_plugin"} in rows
    # Built-ins are listed the same way, from floe's own distribution.
    assert any(r["kind"] == "storage" and r["type"] == "local" and r["distribution"] == "floe" for r in rows)
    text = floe_subprocess(["plugins", "list"], tmp_path, {"PYTHONPATH": str(site)})
    assert "testengine" in text.stdout and "floe-plugin-compute-testengine" in text.stdout


def test_a_third_party_plugin_is_selected_by_its_type_without_changes_to_floe(tmp_path):
    site = tmp_path / "site"
    add_distribution(site, "floe-plugin-compute-testengine", "2.5.0",
                     {"floe.compute": {"testengine": "testengine_plugin"}},
                     {"testengine_plugin.py": GOOD_COMPUTE})
    path = _platform(tmp_path, "testengine")
    result = floe_subprocess(["platform", "validate", path], tmp_path, {"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_unknown_type_lists_installed_types_and_never_a_made_up_package(tmp_path):
    path = _platform(tmp_path, "spark")
    result = floe_subprocess(["platform", "validate", path], tmp_path)
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[0]
    assert line.startswith(f"{path}:5:5: compute.default.type: no compute plugin 'spark' is installed")
    assert "installed compute types: " in line and "duckdb" in line
    assert "pip install" not in line
    assert "Traceback" not in result.stderr


def test_a_plugin_that_fails_to_import_is_named_with_its_distribution(tmp_path):
    site = tmp_path / "site"
    add_distribution(site, "floe-plugin-compute-broken", "0.0.1",
                     {"floe.compute": {"broken": "broken_plugin"}},
                     {"broken_plugin.py": "import a_module_that_does_not_exist\n"})
    path = _platform(tmp_path, "broken")
    result = floe_subprocess(["platform", "validate", path], tmp_path, {"PYTHONPATH": str(site)})
    assert result.returncode == 1
    assert "compute plugin 'broken' from floe-plugin-compute-broken 0.0.1 failed to import" in result.stderr
    assert "a_module_that_does_not_exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_same_type_from_two_distributions_names_both(tmp_path):
    site = tmp_path / "site"
    for dist, module in (("floe-plugin-compute-first", "first_plugin"),
                         ("floe-plugin-compute-second", "second_plugin")):
        add_distribution(site, dist, "1.0.0", {"floe.compute": {"testengine": module}},
                         {f"{module}.py": GOOD_COMPUTE})
    path = _platform(tmp_path, "testengine")
    result = floe_subprocess(["platform", "validate", path], tmp_path, {"PYTHONPATH": str(site)})
    assert result.returncode == 1
    assert "registered by more than one distribution" in result.stderr
    assert "floe-plugin-compute-first" in result.stderr and "floe-plugin-compute-second" in result.stderr


def test_only_the_selected_plugin_is_imported(tmp_path):
    # A broken plugin of the same kind that the platform does not select must not matter.
    site = tmp_path / "site"
    add_distribution(site, "floe-plugin-compute-broken", "0.0.1",
                     {"floe.compute": {"broken": "broken_plugin"}},
                     {"broken_plugin.py": "raise RuntimeError('imported although not selected')\n"})
    add_distribution(site, "floe-plugin-compute-testengine", "2.5.0",
                     {"floe.compute": {"testengine": "testengine_plugin"}},
                     {"testengine_plugin.py": GOOD_COMPUTE})
    path = _platform(tmp_path, "testengine")
    result = floe_subprocess(["platform", "validate", path], tmp_path, {"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr


class _Misspelled:
    @staticmethod
    @hookimpl
    def floe_compute_resolv(settings, context):
        return {}


class _WrongArgument:
    @staticmethod
    @hookimpl
    def floe_compute_resolve(settings, context, extra):
        return {}


class _OtherKind:
    @staticmethod
    @hookimpl
    def floe_compute_resolve(settings, context):
        return {"dbt_profile": {}}

    @staticmethod
    @hookimpl
    def floe_catalog_resolve(settings, context):
        return {}


class _NoResolve:
    @staticmethod
    @hookimpl
    def floe_compute_settings():
        return None


@pytest.mark.parametrize("obj, fragment", [
    (_Misspelled, "unknown hook 'floe_compute_resolv'"),
    (_WrongArgument, "extra"),
    (_OtherKind, "implements hooks of another kind: floe_catalog_resolve"),
    (_NoResolve, "does not implement floe_compute_resolve"),
])
def test_hook_contract_violations_are_refused_naming_the_plugin(obj, fragment):
    with pytest.raises(PluginError) as caught:
        check_plugin("compute", "bad", obj, "floe-plugin-compute-bad 1.0")
    message = str(caught.value)
    assert "compute plugin 'bad' (floe-plugin-compute-bad 1.0)" in message
    assert fragment in message


def test_in_process_registration_wins_and_can_be_removed(floe_registry: PluginRegistry, floe_register):
    class Engine:
        @staticmethod
        @hookimpl
        def floe_compute_resolve(settings, context):
            return {"dbt_profile": {"type": "x"}}

    floe_register("compute", "inproc", Engine)
    assert "inproc" in floe_registry.types("compute")
    assert floe_registry.load("compute", "inproc").obj is Engine
    floe_registry.unregister("compute", "inproc")
    assert "inproc" not in floe_registry.types("compute")
