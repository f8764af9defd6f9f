"""The demo product as Dagster sees it when a code location loads its definitions.

The assets and checks come from the compiled artifacts and dbt's manifest JSON; a transform's
``select`` is applied by dbt's own selection rules.
"""

from __future__ import annotations

import pytest
from dagster import AssetKey

import floe


def definitions(demo):
    from floe_plugin_orchestrator_dagster import FloeDefinitions

    floe.compile(str(demo / "floe.yaml"), write=True)
    return FloeDefinitions.from_compiled_artifacts(demo / ".floe" / "compiled_artifacts.json")


def test_every_planned_node_is_an_asset_in_its_layer_and_every_schema_test_a_check(demo):
    graph = definitions(demo).resolve_asset_graph()
    plan = floe.compile(str(demo / "floe.yaml")).artifacts.publish
    for node in plan.nodes:
        if node.kind == "source":
            continue
        assert graph.get(AssetKey(node.name)).group_name == node.layer, node.name
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert ("bronze_customers", "unique_bronze_customers_customer_id") in checks
    assert ("gold_revenue_by_country", "not_null_gold_revenue_by_country_country") in checks
    # The Python asset reads the dbt model it names: the same key as the model's asset.
    assert graph.get(AssetKey("top_countries")).parent_keys == {AssetKey("gold_revenue_by_country")}
    assert graph.get(AssetKey("silver_customer_orders")).parent_keys == {
        AssetKey("bronze_customers"), AssetKey("bronze_orders")}


@pytest.mark.parametrize("selection", ["select: bronze_customers bronze_orders",
                                       # relative to the dbt project, wherever the location loads
                                       "models: [{path: models/bronze}]"])
def test_a_transform_selection_keeps_only_the_nodes_dbt_selects(demo, selection):
    floe_yaml = demo / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text().replace(
        "    path: ./dbt\n", f"    path: ./dbt\n    {selection}\n"))
    (demo / "assets" / "top_countries.py").unlink()  # it reads gold, which is no longer built
    graph = definitions(demo).resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).is_materializable} \
        == {"bronze_customers", "bronze_orders"}
    assert {key.asset_key.to_user_string() for key in graph.asset_check_keys} == {
        "bronze_customers", "bronze_orders"}
