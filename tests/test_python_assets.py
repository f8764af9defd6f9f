"""Finding `@floe_asset` functions: the conventional folder and the modules floe.yaml names."""

from __future__ import annotations

import pytest

import floe
from floe.diagnostics import FloeError
from floe.runtime import RunContext
from floe_plugin_orchestrator_dagster.python_assets import discover


def _context(demo):
    return RunContext(floe.compile(str(demo / "floe.yaml")).artifacts, demo)


def test_assets_folder_and_named_modules_are_both_discovered(demo):
    package = demo / "team_assets"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "extra.py").write_text(
        "from floe.assets import FloeCatalog, floe_asset\n\n"
        "@floe_asset(deps=['silver_customer_orders'], layer='silver', name='order_sizes')\n"
        "def sizes(catalog: FloeCatalog):\n    '''Order sizes.'''\n    return None\n")
    floe_yaml = demo / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text() + "assets: {modules: [team_assets.extra]}\n")
    specs = {spec.name: spec for spec in discover(_context(demo))}
    assert sorted(specs) == ["order_sizes", "top_countries"]
    assert specs["order_sizes"].deps == ("silver_customer_orders",)
    assert specs["order_sizes"].layer == "silver"
    assert specs["order_sizes"].description == "Order sizes."
    assert specs["top_countries"].deps == ("gold_revenue_by_country",)


def test_an_asset_module_that_fails_to_import_is_named(demo):
    (demo / "assets" / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(FloeError, match=r"broken.py: the asset module failed to import: "
                                        r"ModuleNotFoundError"):
        discover(_context(demo))
