"""The publish plan: which nodes a run builds, and the Iceberg table each one writes.

Compile builds it once from dbt's parsed projects, the layers enforcement placed models in and
the product's ``@floe_asset`` functions; it goes into the CompiledArtifacts
(:class:`floe.artifacts.PublishPlan`). :func:`node_layer` and :func:`planned_table` are the one
place that decides a node's namespace and table; nothing at run time derives them again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from floe.artifacts import PlannedNode, PlannedTable, PublishPlan
from floe.diagnostics import FloeError, did_you_mean

if TYPE_CHECKING:
    from floe.artifacts import DbtTransform
    from floe.assets import AssetSpec
    from floe.dbt_project import DbtProjectModels

#: Namespace of nodes that sit directly in the project's model folder with no layer prefix.
DEFAULT_LAYER = "main"


def node_layer(name: str, fqn: Sequence[str], placed: str | None = None) -> str:
    """The catalog namespace of a node: where enforcement ``placed`` it, else by its name or
    folder — ``gold_revenue`` → ``gold``; ``models/staging/stg_x.sql`` → ``staging``; else
    ``main``.

    ``fqn`` is dbt's fully qualified name: project, folders..., node name.
    """
    from floe.enforcement.inheritance import PATTERN_LAYERS

    if placed:
        return placed
    # Without a placement (naming enforcement off), the medallion prefixes still name a layer.
    for layer, prefixes in PATTERN_LAYERS["medallion"].items():
        if name.startswith(prefixes):
            return layer
    folders = list(fqn[1:-1])
    return folders[0] if folders else DEFAULT_LAYER


def planned_table(name: str, layer: str, materialized: str | None,
                  unique_key: Sequence[str] = ()) -> PlannedTable | None:
    """The table a node publishes, or None: a ``table`` model replaces its table, an
    ``incremental`` one merges on its unique key or, without one, appends; a Python asset
    (``materialized="python"``) replaces its table."""
    if materialized in ("table", "python"):
        return PlannedTable(layer, name, "replace")
    if materialized == "incremental":
        return PlannedTable(layer, name, "merge", list(unique_key)) if unique_key else \
            PlannedTable(layer, name, "append")
    return None


def build_plan(transforms: Iterable["DbtTransform"], projects: dict[str, "DbtProjectModels"],
               assets: Sequence["AssetSpec"], product_dir: Path) -> PublishPlan:
    """The plan of a product.

    :param transforms: the compiled transforms (their ``models`` carry enforcement's layers).
    :param projects: each transform's parsed project, by ``project_dir``.
    :param assets: the product's Python assets (:func:`floe.asset_modules.discover`).
    :raises FloeError: when a Python asset depends on a name that is no node of the product.
    """
    nodes: list[PlannedNode] = []
    for transform in transforms:
        project = projects.get(transform.project_dir)
        if project is None:
            continue
        placed = {model.unique_id: model.layer for model in transform.models}
        for node in project.graph:
            kind = node.resource_type
            layer = None if kind == "source" else node_layer(node.name, node.fqn, placed.get(node.unique_id))
            table = planned_table(node.name, layer, node.materialized, node.unique_key) \
                if kind == "model" and layer is not None else None
            nodes.append(PlannedNode(id=node.unique_id, kind=kind, name=node.name, transform=transform.name,
                                     materialized=node.materialized, layer=layer,
                                     depends_on=list(node.depends_on), table=table))
    by_name: dict[str, str] = {}
    for node in nodes:
        if node.kind != "source":
            by_name.setdefault(node.name, node.id)
    by_name.update({spec.name: f"python.{spec.name}" for spec in assets})
    for spec in assets:
        depends_on = []
        for dep in spec.deps:
            if dep not in by_name:
                raise FloeError(f"{_where(spec, product_dir)}: Python asset '{spec.name}' depends on "
                                f"'{dep}', which is no model, seed, snapshot or Python asset of the "
                                f"product{did_you_mean(dep, list(by_name))}")
            depends_on.append(by_name[dep])
        nodes.append(PlannedNode(id=f"python.{spec.name}", kind="python", name=spec.name,
                                 materialized="python", layer=spec.layer, depends_on=depends_on,
                                 table=planned_table(spec.name, spec.layer, "python"),
                                 description=spec.description))
    return PublishPlan(nodes)


def _where(spec: "AssetSpec", product_dir: Path) -> str:
    from floe.asset_modules import where

    return where(spec, product_dir)
