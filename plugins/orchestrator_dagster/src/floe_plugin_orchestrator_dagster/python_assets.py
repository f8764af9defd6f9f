"""``@floe_asset`` functions as Dagster assets: catalog injected, result published."""

from __future__ import annotations

import inspect
import typing
from typing import TYPE_CHECKING, Any

from floe.artifacts import PlannedNode
from floe.assets import AssetSpec, FloeCatalog
from floe.diagnostics import FloeError
from floe.runtime.publish import stage_table
from floe.runtime.scrub import scrub_exception
from floe_plugin_orchestrator_dagster.resource import failing_as

if TYPE_CHECKING:
    from floe.runtime import RunContext


def planned_assets(context: "RunContext") -> list[tuple[AssetSpec, PlannedNode]]:
    """The publish plan's Python assets, each with the function that computes it.

    The functions are imported again (run time needs the code); their names, layers and
    dependencies are the plan's, and an asset that is not in the plan, or a planned one whose
    function is gone, means the product changed since compile.
    """
    from floe.asset_modules import discover

    plan = {node.name: node for node in context.artifacts.publish.python_assets()}
    found = {spec.name: spec for spec in discover(context.product_dir, context.artifacts.python_assets)}
    names = asset_names(context)
    changed = sorted(set(plan) ^ set(found))
    changed += sorted(name for name in set(plan) & set(found)
                      if (plan[name].layer, [names[d] for d in plan[name].depends_on])
                      != (found[name].layer, list(found[name].deps)))
    if changed:
        raise FloeError(f"Python asset(s) {', '.join(changed)} changed since the artifacts were "
                        "compiled; run `floe compile` again")
    return [(found[name], plan[name]) for name in sorted(plan)]


def asset_names(context: "RunContext") -> dict[str, str]:
    """The asset name of every node of the publish plan, by id."""
    return {node.id: node.name for node in context.artifacts.publish.nodes}


def build_asset(spec: AssetSpec, node: PlannedNode, names: dict[str, str]) -> Any:
    """The Dagster asset that runs ``spec.fn`` after its dependencies and publishes its table.

    :param node: the asset's entry in the publish plan (layer, table, dependencies).
    :param names: asset name of every node of the plan, by id (a dbt node's asset key is its
        name too, see :mod:`.dbt_specs`).
    """
    from dagster import AssetKey, MaterializeResult, asset

    catalog_params = _catalog_parameters(spec.fn)
    table = node.table
    assert table is not None
    deps = [names[dep] for dep in node.depends_on]

    @asset(name=node.name, deps=[AssetKey(dep) for dep in deps], group_name=node.layer,
           description=node.description, required_resource_keys={"floe"})
    def python_asset(context):  # noqa: ANN001 - Dagster resolves this annotation itself
        floe = context.resources.floe
        # observability: a span and START/COMPLETE/FAIL lineage around the user's function
        with floe.step(), \
                floe.observer.python_asset(node.name, context.run_id, layer=node.layer, deps=deps):
            # Tables this run staged read as they will be once the run commits.
            catalog = FloeCatalog(floe.reading_catalog())
            try:
                result = spec.fn(**{name: catalog for name in catalog_params})
            except Exception as exc:
                # The user's message may quote a secret it read: mask it before Dagster, the
                # console, lineage or the run log see it.
                scrubbed = scrub_exception(exc)
                if scrubbed is exc:
                    raise
                raise scrubbed from None
            if result is None:
                return MaterializeResult()
            publisher, key = floe.publisher(), f"python:{node.name}"
            with failing_as(spec.name):
                data = _as_arrow(result, spec)
                # Staged only: the run commits its tables together after its last asset.
                publisher.submit(key, lambda: stage_table(floe.context.catalog, table.namespace, table.name,
                                                    data, asset=node.name, journal=publisher.journal))
                published = publisher.wait([key])[key].result
            floe.observer.table_published(published, data.schema)
            return MaterializeResult(metadata={"table": published.table, "rows": published.rows,
                                               "snapshot_id": str(published.snapshot_id)})

    return python_asset


def _catalog_parameters(fn: Any) -> list[str]:
    hints = typing.get_type_hints(fn)
    params = inspect.signature(fn).parameters
    unknown = [name for name in params if hints.get(name) is not FloeCatalog]
    if unknown:
        raise FloeError(f"Python asset '{fn.__name__}': parameter(s) {', '.join(unknown)} cannot be "
                        "provided; annotate a parameter with FloeCatalog to receive the catalog")
    return list(params)


def _as_arrow(result: Any, spec: AssetSpec) -> Any:
    import pyarrow as pa

    if isinstance(result, pa.Table):
        return result
    if hasattr(result, "to_arrow"):
        return result.to_arrow()
    raise FloeError(f"Python asset '{spec.name}' returned {type(result).__name__}; return a "
                    "pyarrow.Table to publish it, or None")
