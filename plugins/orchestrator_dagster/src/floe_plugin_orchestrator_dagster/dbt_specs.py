"""Dagster asset and check specs of a dbt project, read straight from its manifest JSON.

A code location builds these on every load (``dagster code-server``, ``floe dev``), so they
are made from the manifest dict and the publish plan alone: no dbt import, no dbt objects,
no graph library. Keys and groups follow floe's publish plan — a model, seed or snapshot is
keyed by its name (as Python assets name their dependencies), a source by
``[source_name, table]`` — and its group is its layer. A dbt test attached to one asset is an
asset check on it; a test of severity ``error`` blocks the assets downstream.

Only a transform with its own ``select``/``exclude`` needs dbt's selection engine, which
then loads on demand.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:
    from dagster import AssetCheckSpec, AssetKey, AssetSpec

#: dbt resource types that become Dagster assets.
ASSET_TYPES = ("model", "seed", "snapshot")


class DbtSpecs:
    """The specs of one transform's dbt project and the asset key of every node.

    :param manifest: dbt's manifest.json, parsed.
    :param layer_of: the layer (Dagster group) of a model, seed or snapshot, by unique_id.
    :param adapter: the dbt adapter's type (``duckdb``, ``trino``), shown as an asset kind.
    :param selected: the unique_ids the transform selects; None: all of them.
    """

    def __init__(self, manifest: Mapping[str, Any], layer_of: Callable[[str], str | None],
                 adapter: str | None = None, selected: set[str] | None = None):
        from dagster import AssetKey

        self._nodes: Mapping[str, Any] = manifest["nodes"]
        self._sources: Mapping[str, Any] = manifest.get("sources", {})
        #: Asset key of every model, seed, snapshot and source, by unique_id.
        self.key_of: dict[str, AssetKey] = {}
        for unique_id, node in self._nodes.items():
            if _is_asset(node):
                self.key_of[unique_id] = AssetKey(_asset_name(node))
        for unique_id, source in self._sources.items():
            self.key_of[unique_id] = AssetKey([source["source_name"], source["name"]])
        kinds = {"dbt", adapter} if adapter else {"dbt"}
        wanted = selected if selected is not None else set(self._nodes)
        self.assets: list[AssetSpec] = [
            self._asset_spec(unique_id, node, layer_of(unique_id), kinds)
            for unique_id, node in self._nodes.items() if unique_id in wanted and _is_asset(node)]
        specified = {spec.key for spec in self.assets}
        self.checks: list[AssetCheckSpec] = [
            check for unique_id, node in self._nodes.items()
            if unique_id in wanted and node["resource_type"] == "test"
            for check in [self._check_spec(unique_id, node)] if check is not None and check.asset_key in specified]

    def _asset_spec(self, unique_id: str, node: Mapping[str, Any], layer: str | None,
                    kinds: set[str]) -> "AssetSpec":
        from dagster import AssetSpec

        code = node.get("raw_code") or node.get("raw_sql")
        return AssetSpec(
            self.key_of[unique_id], deps=[self.key_of[parent] for parent in self._upstream(node)],
            description=node.get("description") or None, group_name=layer, kinds=kinds,
            # Dagster marks an asset whose code version changed since its last run as changed.
            code_version=hashlib.sha1(code.encode()).hexdigest() if code else None,
            metadata={"dbt/unique_id": unique_id, **_column_schema(node)},
            # A model dbt skips (an upstream failed) yields nothing; the step reports why.
            skippable=True)

    def _check_spec(self, unique_id: str, test: Mapping[str, Any]) -> "AssetCheckSpec | None":
        from dagster import AssetCheckSpec

        parents = [parent for parent in test.get("depends_on", {}).get("nodes", []) if parent in self.key_of]
        attached = test.get("attached_node") or (parents[0] if len(set(parents)) == 1 else None)
        if attached not in self.key_of:
            return None  # a test over several models without one attached: no single asset to check
        key = self.key_of[attached]
        severity = (test.get("config", {}).get("severity") or "error").lower()
        return AssetCheckSpec(test["name"], asset=key, description=test.get("description") or None,
                              additional_deps=sorted({self.key_of[p] for p in parents} - {key}, key=str),
                              blocking=severity == "error", metadata={"dbt/unique_id": unique_id})

    def _upstream(self, node: Mapping[str, Any]) -> list[str]:
        """The asset unique_ids a node reads, looking through ephemeral models to their parents."""
        found: list[str] = []
        queue = list(node.get("depends_on", {}).get("nodes", []))
        seen: set[str] = set()
        while queue:
            parent = queue.pop(0)
            if parent in seen:
                continue
            seen.add(parent)
            if parent in self.key_of:
                found.append(parent)
            elif parent in self._nodes:  # ephemeral model, metric, ...: not an asset itself
                queue.extend(self._nodes[parent].get("depends_on", {}).get("nodes", []))
        return found


def selected_ids(manifest: Mapping[str, Any], select: str | None, exclude: str | None,
                 project_dir: Path) -> set[str] | None:
    """The unique_ids a transform's ``select``/``exclude`` pick, by dbt's own selection rules;
    None when it has neither (every node).

    ``path:`` selectors are relative to ``project_dir``, as when dbt runs the project (dbt's
    selector otherwise reads them against the working directory).
    """
    if not select and not exclude:
        return None
    from dagster_dbt.utils import select_unique_ids
    from dbt_common.events.contextvars import task_contextvars

    with task_contextvars(project_root=str(project_dir)):
        return set(select_unique_ids(select=select or "fqn:*", exclude=exclude or "", selector="",
                                     project=None, manifest_json=manifest))


def _is_asset(node: Mapping[str, Any]) -> bool:
    return node["resource_type"] in ASSET_TYPES and not (
        node["resource_type"] == "model" and node.get("config", {}).get("materialized") == "ephemeral")


def _asset_name(node: Mapping[str, Any]) -> str:
    # A versioned model has one node per version; dbt names each version's relation this way.
    version = node.get("version")
    return f"{node['name']}_v{version}" if version is not None else node["name"]


def _column_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    """The documented columns as Dagster's column schema (shown in the UI), if any."""
    columns: Iterable[Mapping[str, Any]] = (node.get("columns") or {}).values()
    if not columns:
        return {}
    from dagster import TableColumn, TableSchema

    return {"dagster/column_schema": TableSchema(columns=[
        TableColumn(column["name"], type=column.get("data_type") or "unknown",
                    description=column.get("description") or None) for column in columns])}
