"""The Dagster specs of a dbt project, from its manifest JSON (no dbt import at load).

A hand-written manifest keeps each rule visible; the demo product's real manifest goes through
the same code in tests/test_dbt_assets.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

from floe_plugin_orchestrator_dagster.dbt_specs import DbtSpecs


def node(kind: str, name: str, *parents: str, materialized: str = "table", **extra) -> dict:
    return {"resource_type": kind, "name": name, "config": {"materialized": materialized},
            "depends_on": {"nodes": list(parents)}, **extra}


MANIFEST = {
    "sources": {"source.p.raw.orders": {"source_name": "raw", "name": "orders", "resource_type": "source"}},
    "nodes": {
        "seed.p.countries": node("seed", "countries", materialized="seed"),
        "model.p.stg_orders": node("model", "stg_orders", "source.p.raw.orders", materialized="ephemeral"),
        "model.p.silver_orders": node("model", "silver_orders", "model.p.stg_orders", "seed.p.countries",
                                      description="Orders with their country.", raw_code="select 1",
                                      columns={"id": {"name": "id", "description": "the order",
                                                      "data_type": "integer"}}),
        "model.p.gold_daily": node("model", "gold_daily", "model.p.silver_orders", version=2),
        "test.p.not_null_silver_orders_id": node(
            "test", "not_null_silver_orders_id", "model.p.silver_orders", materialized="test",
            attached_node="model.p.silver_orders"),
        "test.p.few_gold_rows": node("test", "few_gold_rows", "model.p.gold_daily", materialized="test",
                                     config={"severity": "warn"}),
        "test.p.gold_matches_silver": node("test", "gold_matches_silver", "model.p.gold_daily",
                                           "model.p.silver_orders", materialized="test",
                                           attached_node="model.p.gold_daily"),
        "test.p.across_models": node("test", "across_models", "model.p.gold_daily", "seed.p.countries",
                                     materialized="test"),
    },
}
LAYERS = {"seed.p.countries": "bronze", "model.p.silver_orders": "silver", "model.p.gold_daily": "gold"}


def specs(selected=None) -> DbtSpecs:
    return DbtSpecs(MANIFEST, LAYERS.get, adapter="duckdb", selected=selected)


def test_models_seeds_and_snapshots_are_assets_keyed_by_name_and_grouped_by_layer():
    assets = {spec.key: spec for spec in specs().assets}
    assert set(assets) == {AssetKey("countries"), AssetKey("silver_orders"), AssetKey("gold_daily_v2")}
    silver = assets[AssetKey("silver_orders")]
    assert silver.group_name == "silver" and assets[AssetKey("countries")].group_name == "bronze"
    assert silver.kinds == {"dbt", "duckdb"} and silver.skippable
    assert silver.description == "Orders with their country."
    assert silver.metadata["dbt/unique_id"] == "model.p.silver_orders"
    [column] = silver.metadata["dagster/column_schema"].columns
    assert (column.name, column.type, column.description) == ("id", "integer", "the order")
    # The code version follows the SQL, so Dagster shows the model as changed when it changes.
    assert silver.code_version and assets[AssetKey("countries")].code_version is None


def test_an_ephemeral_model_is_looked_through_to_the_source_it_reads():
    silver = {spec.key: spec for spec in specs().assets}[AssetKey("silver_orders")]
    assert {dep.asset_key for dep in silver.deps} == {AssetKey(["raw", "orders"]), AssetKey("countries")}
    assert specs().key_of["source.p.raw.orders"] == AssetKey(["raw", "orders"])
    assert "model.p.stg_orders" not in specs().key_of


def test_tests_on_one_asset_are_checks_and_only_error_severity_blocks():
    checks = {check.name: check for check in specs().checks}
    # A test over two models with no attached node checks no single asset: not a check.
    assert set(checks) == {"not_null_silver_orders_id", "few_gold_rows", "gold_matches_silver"}
    assert checks["not_null_silver_orders_id"].asset_key == AssetKey("silver_orders")
    assert checks["not_null_silver_orders_id"].blocking and not checks["few_gold_rows"].blocking
    matches = checks["gold_matches_silver"]
    assert matches.asset_key == AssetKey("gold_daily_v2")
    assert {dep.asset_key for dep in matches.additional_deps} == {AssetKey("silver_orders")}


def test_a_selection_keeps_its_nodes_and_their_checks_only():
    selected = specs(selected={"model.p.silver_orders", "test.p.not_null_silver_orders_id",
                               "test.p.few_gold_rows"})
    assert [spec.key for spec in selected.assets] == [AssetKey("silver_orders")]
    # few_gold_rows is selected, but its asset is not: no check on an asset outside the selection
    assert [check.name for check in selected.checks] == ["not_null_silver_orders_id"]
    # keys of unselected nodes stay known: a selected asset's deps name them
    assert selected.key_of["model.p.gold_daily"] == AssetKey("gold_daily_v2")


def test_building_the_specs_imports_no_dbt():
    # A fresh interpreter: other tests of this session may have imported dbt already.
    code = ("import sys, test_dbt_specs; test_dbt_specs.specs(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dbt', 'dagster_dbt')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent,
                          capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
