"""The publish plan in CompiledArtifacts: compile decides every node's table, namespace, write
mode and key once; run time, observability and `floe lineage` read it and derive nothing."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import attrs
import jsonschema
import pytest

import floe
from floe.artifacts import CompiledArtifacts, PublishPlan
from floe.diagnostics import FloeError
from floe.plan import node_layer, planned_table

ROOT = Path(__file__).resolve().parent.parent
MERGED = "{{ config(materialized='incremental', unique_key=['order_id']) }}\n" \
         "select order_id, amount from {{ ref('bronze_orders') }}\n"
APPENDED = "{{ config(materialized='incremental') }}\nselect order_id from {{ ref('bronze_orders') }}\n"
VIEW = "{{ config(materialized='view') }}\nselect order_id from {{ ref('bronze_orders') }}\n"


def _plan(demo: Path) -> PublishPlan:
    return floe.compile(str(demo / "floe.yaml")).artifacts.publish


def test_the_plan_says_each_nodes_table_namespace_write_mode_and_key(demo):
    models = demo / "dbt" / "models"
    (models / "gold" / "gold_orders_merged.sql").write_text(MERGED)
    (models / "gold" / "gold_orders_log.sql").write_text(APPENDED)
    (models / "silver" / "silver_orders_view.sql").write_text(VIEW)
    plan = {node.name: node for node in _plan(demo).nodes}
    tables = {name: (n.table.identifier, n.table.mode, n.table.unique_key)
              for name, n in plan.items() if n.table is not None}
    assert tables == {
        "bronze_customers": ("bronze.bronze_customers", "replace", []),
        "bronze_orders": ("bronze.bronze_orders", "replace", []),
        "silver_customer_orders": ("silver.silver_customer_orders", "replace", []),
        "gold_revenue_by_country": ("gold.gold_revenue_by_country", "replace", []),
        "gold_orders_merged": ("gold.gold_orders_merged", "merge", ["order_id"]),
        "gold_orders_log": ("gold.gold_orders_log", "append", []),
        "top_countries": ("gold.top_countries", "replace", []),
    }
    view, seed = plan["silver_orders_view"], plan["raw_orders"]
    assert (view.kind, view.materialized, view.layer, view.table) == ("model", "view", "silver", None)
    assert (seed.kind, seed.layer, seed.table, seed.transform) == ("seed", "main", None, "core")
    assert plan["bronze_orders"].depends_on == ["seed.customer_analytics.raw_orders"]
    assert plan["top_countries"].depends_on == ["model.customer_analytics.gold_revenue_by_country"]


def test_compile_places_a_node_where_enforcement_put_it_else_by_name_or_folder():
    assert node_layer("gold_x", ["p", "marts", "gold_x"], placed="silver") == "silver"
    assert node_layer("gold_x", ["p", "marts", "gold_x"]) == "gold"
    assert node_layer("stg_x", ["p", "staging", "stg_x"]) == "staging"
    assert node_layer("x", ["p", "x"]) == "main"
    assert planned_table("x", "main", "view") is None
    assert planned_table("x", "main", "ephemeral") is None
    assert planned_table("x", "main", "incremental", ["a", "b"]).unique_key == ["a", "b"]


def test_real_artifacts_with_their_plan_validate_against_the_exported_schema(demo, run_cli, tmp_path):
    assert run_cli(["compile"], cwd=demo).exit_code == 0
    assert run_cli(["schema", "export", "--output", tmp_path]).exit_code == 0
    schema = json.loads((tmp_path / "compiled-artifacts.schema.json").read_text())
    data = json.loads((demo / ".floe" / "compiled_artifacts.json").read_text())
    assert len(data["publish"]["nodes"]) == 7
    jsonschema.validate(data, schema)
    data["publish"]["nodes"][0]["table"] = {"namespace": "bronze", "name": "x", "mode": "upsert"}
    with pytest.raises(jsonschema.ValidationError, match="'upsert' is not one of"):
        jsonschema.validate(data, schema)
    # The written file reads back to the same plan.
    assert CompiledArtifacts.read(demo / ".floe" / "compiled_artifacts.json").publish == _plan(demo)


def test_artifacts_an_older_floe_wrote_without_a_plan_are_refused(demo):
    data = json.loads(floe.compile(str(demo / "floe.yaml")).artifacts.to_json())
    data.pop("publish")
    data["contract_version"] = "1.1.0"
    with pytest.raises(FloeError, match=r"compiled by an older floe \(contract 1.1.0\), without the "
                                        r"publish plan run time reads; run `floe compile` again"):
        CompiledArtifacts.from_json(json.dumps(data))


def test_a_run_publishes_where_the_plan_says(demo):
    """Run time takes namespaces from the plan: moved there, tables land in the new namespace."""
    from floe.plugins.manager import PluginRegistry
    from floe.runtime import RunContext, RunRequest
    from pyiceberg.catalog.sql import SqlCatalog

    artifacts = floe.compile(str(demo / "floe.yaml")).artifacts
    moved = {"bronze_orders", "top_countries"}
    nodes = [attrs.evolve(node, table=attrs.evolve(node.table, namespace="reporting"))
             if node.name in moved else node for node in artifacts.publish.nodes]
    artifacts = attrs.evolve(artifacts, publish=PublishPlan(nodes))
    context = RunContext(artifacts, demo, PluginRegistry())
    orchestrator = context.plugin("orchestrator", artifacts.orchestrator)
    with context.dbt_env():
        outcome = orchestrator.call("run", config=artifacts.orchestrator.config, context=context,
                                    request=RunRequest())
    assert outcome.success, outcome.error
    catalog = SqlCatalog("floe", uri=f"sqlite:///{demo / '.floe' / 'catalog.db'}",
                         warehouse=(demo / ".floe" / "warehouse").as_uri())
    written = sorted(f"{ns[0]}.{name}" for ns in catalog.list_namespaces() for _, name in catalog.list_tables(ns))
    assert written == ["bronze.bronze_customers", "gold.gold_revenue_by_country", "reporting.bronze_orders",
                       "reporting.top_countries", "silver.silver_customer_orders"]
    assert sorted(t.table for t in outcome.tables) == written


# -- the core never imports a plugin ---------------------------------------------------------


def _imported_names(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            names.append((node.lineno, node.args[0].value))
    return names


def test_no_module_under_floe_imports_a_plugin_package():
    modules = sorted((ROOT / "floe").rglob("*.py"))
    assert len(modules) > 50
    imports = {f"{path.relative_to(ROOT)}:{line}": name for path in modules
               for line, name in _imported_names(path)}
    assert any(name == "floe.artifacts" for name in imports.values())  # the walk sees imports
    assert {where: name for where, name in imports.items() if name.startswith("floe_plugin")} == {}
