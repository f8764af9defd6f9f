"""Finding `@floe_asset` functions: the conventional folder and the modules floe.yaml names."""

from __future__ import annotations

import pytest

import floe
from floe.asset_modules import discover
from floe.diagnostics import FloeError


def _discover(demo):
    """The assets run time finds, as floe.yaml (compiled) tells it where to look."""
    return discover(demo, floe.compile(str(demo / "floe.yaml")).artifacts.python_assets)


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
    specs = {spec.name: spec for spec in _discover(demo)}
    assert sorted(specs) == ["order_sizes", "top_countries"]
    assert specs["order_sizes"].deps == ("silver_customer_orders",)
    assert specs["order_sizes"].layer == "silver"
    assert specs["order_sizes"].description == "Order sizes."
    assert specs["top_countries"].deps == ("gold_revenue_by_country",)


def test_an_asset_module_that_fails_to_import_fails_compile_naming_it(demo):
    (demo / "assets" / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(FloeError, match=r"broken.py: the asset module failed to import: "
                                        r"ModuleNotFoundError"):
        floe.compile(str(demo / "floe.yaml"))


def test_compile_puts_every_asset_with_its_layer_and_dependencies_in_the_plan(demo):
    (demo / "assets" / "sizes.py").write_text(
        "from floe.assets import FloeCatalog, floe_asset\n\n"
        "@floe_asset(deps=['silver_customer_orders', 'top_countries'], layer='silver')\n"
        "def order_sizes(catalog: FloeCatalog):\n    '''Order sizes.'''\n    return None\n")
    plan = floe.compile(str(demo / "floe.yaml")).artifacts.publish
    assets = {node.name: node for node in plan.python_assets()}
    assert sorted(assets) == ["order_sizes", "top_countries"]
    sizes = assets["order_sizes"]
    assert sizes.id == "python.order_sizes" and sizes.layer == "silver"
    assert sizes.depends_on == ["model.customer_analytics.silver_customer_orders", "python.top_countries"]
    assert (sizes.table.identifier, sizes.table.mode) == ("silver.order_sizes", "replace")
    assert sizes.description == "Order sizes."


def test_a_dependency_on_no_node_of_the_product_fails_compile_at_the_asset(demo):
    (demo / "assets" / "sizes.py").write_text(
        "from floe.assets import FloeCatalog, floe_asset\n\n\n"
        "@floe_asset(deps=['silver_customer_order'])\n"
        "def order_sizes(catalog: FloeCatalog):\n    return None\n")
    with pytest.raises(FloeError, match=r"assets/sizes.py:4: Python asset 'order_sizes' depends on "
                                        r"'silver_customer_order', which is no model, seed, snapshot or "
                                        r"Python asset of the product \(did you mean "
                                        r"'silver_customer_orders'\?\)"):
        floe.compile(str(demo / "floe.yaml"))


@pytest.mark.parametrize("decorator", ['@floe_asset(name="../escape", layer="gold")',
                                       '@floe_asset(layer="../../etc")'])
def test_an_asset_name_or_layer_that_would_become_a_path_fails_compile_at_its_line(demo, decorator):
    (demo / "assets" / "bad.py").write_text(
        "from floe.assets import floe_asset\n\n\n"
        f"{decorator}\n"
        "def bad():\n"
        "    return None\n")
    with pytest.raises(FloeError) as raised:
        floe.compile(str(demo / "floe.yaml"))
    message = str(raised.value)
    assert message.startswith("assets/bad.py:4: bad: @floe_asset "), message
    assert "is not valid: use " in message
