"""The product's lineage graph for ``floe lineage``: sources, seeds, models, Python assets and
the Iceberg tables they publish, drawn as Mermaid (pastes into Markdown docs), DOT or JSON.

The graph is what the product *would* produce, read from the compiled artifacts, the dbt
manifest ``floe compile`` caches under ``.floe/dbt/<transform>/target/`` and the ``@floe_asset``
functions of the product; it needs no run and no lineage server.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import attrs

from floe.diagnostics import FloeError

#: dbt materializations whose model floe publishes as an Iceberg table.
PUBLISHED = ("table", "incremental")
#: Node kinds, in the order the legend and the output list them.
KINDS = ("source", "seed", "snapshot", "model", "python", "table")
_MERMAID_SHAPES = {"source": '(["{}"])', "seed": '(["{}"])', "snapshot": '["{}"]', "model": '["{}"]',
                   "python": '[["{}"]]', "table": '[("{}")]'}
_MERMAID_STYLES = {"source": "fill:#eef,stroke:#557", "seed": "fill:#eef,stroke:#557",
                   "snapshot": "fill:#ffd,stroke:#995", "model": "fill:#ffd,stroke:#995",
                   "python": "fill:#efe,stroke:#595", "table": "fill:#def,stroke:#369"}
_DOT_SHAPES = {"source": "ellipse", "seed": "ellipse", "snapshot": "box", "model": "box",
               "python": "component", "table": "cylinder"}


@attrs.frozen
class Node:
    """One box of the graph. ``id`` is ``<kind>:<name>``."""

    id: str
    kind: str
    name: str
    detail: str | None = None


@attrs.define
class Graph:
    """Nodes and edges (``(from id, to id)``) of a product's lineage."""

    product: str
    nodes: dict[str, Node] = attrs.Factory(dict)
    edges: set[tuple[str, str]] = attrs.Factory(set)

    def add(self, kind: str, name: str, detail: str | None = None) -> str:
        """Add a node (once) and return its id."""
        node_id = f"{kind}:{name}"
        self.nodes.setdefault(node_id, Node(node_id, kind, name, detail))
        return node_id

    def link(self, source: str, target: str) -> None:
        """Add an edge between two node ids."""
        if source != target:
            self.edges.add((source, target))


def build_graph(artifacts: Any, product_dir: Path, python_assets: list[Any] | None = None,
                layer_of: Callable[[str, Any], str] | None = None) -> Graph:
    """The lineage graph of a compiled product.

    :param python_assets: ``floe.assets.AssetSpec`` objects of the product's Python assets.
    :param layer_of: ``(name, fqn) -> layer`` for models the artifacts place in no layer.
    """
    graph = Graph(artifacts.product.name)
    table_of: dict[str, str] = {}  # asset name -> node id its readers read from
    for transform in artifacts.dbt.transforms:
        manifest = _manifest(product_dir, transform.name)
        layers = {model.unique_id: model.layer for model in transform.models}
        ids: dict[str, str] = {}
        for unique_id, source in sorted(manifest.get("sources", {}).items()):
            ids[unique_id] = graph.add("source", f"{source['source_name']}.{source['name']}")
        nodes = {uid: node for uid, node in manifest.get("nodes", {}).items()
                 if node.get("resource_type") in ("model", "seed", "snapshot")}
        for unique_id, node in sorted(nodes.items()):
            materialized = node.get("config", {}).get("materialized")
            kind = node["resource_type"]
            ids[unique_id] = graph.add(kind, node["name"], materialized if kind == "model" else None)
            table_of[node["name"]] = ids[unique_id]
        for unique_id, node in sorted(nodes.items()):
            for upstream in node.get("depends_on", {}).get("nodes", []):
                if upstream in ids:
                    graph.link(ids[upstream], ids[unique_id])
            if node["resource_type"] == "model" and node.get("config", {}).get("materialized") in PUBLISHED:
                layer = layers.get(unique_id) or (layer_of(node["name"], node.get("fqn", []))
                                                  if layer_of else "main")
                table = graph.add("table", f"{layer}.{node['name']}")
                graph.link(ids[unique_id], table)
                table_of[node["name"]] = table
    for spec in sorted(python_assets or [], key=lambda s: s.name):
        asset = graph.add("python", spec.name)
        table = graph.add("table", f"{spec.layer}.{spec.name}")
        graph.link(asset, table)
        table_of.setdefault(spec.name, table)
    for spec in python_assets or []:
        for dep in spec.deps:
            graph.link(table_of.get(dep) or graph.add("model", dep), f"python:{spec.name}")
    return graph


def _manifest(product_dir: Path, transform: str) -> dict[str, Any]:
    from floe.dbt_project import CACHE_DIR

    path = product_dir / CACHE_DIR / transform / "target" / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FloeError(f"{path}: no dbt manifest for transform '{transform}'; run `floe compile` "
                        "first") from None
    except ValueError as exc:
        raise FloeError(f"{path}: not a dbt manifest ({exc}); run `floe compile` again") from None
    except RecursionError:
        raise FloeError(f"{path}: not a dbt manifest (JSON nested too deeply); run `floe compile` "
                        "again") from None


# -- rendering ------------------------------------------------------------------------------


def _label(node: Node) -> str:
    return f"{node.name} ({node.detail})" if node.detail else node.name


def _mermaid_id(node_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", node_id)


def to_mermaid(graph: Graph) -> str:
    """A Mermaid ``flowchart LR``: sources and seeds as stadiums, Python assets as subroutines,
    Iceberg tables as cylinders."""
    lines = ["flowchart LR"]
    for node in sorted(graph.nodes.values(), key=_order):
        label = _label(node).replace('"', "'")
        lines.append(f"  {_mermaid_id(node.id)}{_MERMAID_SHAPES[node.kind].format(label)}")
    for source, target in sorted(graph.edges):
        lines.append(f"  {_mermaid_id(source)} --> {_mermaid_id(target)}")
    for kind in KINDS:
        members = sorted(_mermaid_id(n.id) for n in graph.nodes.values() if n.kind == kind)
        if members:
            lines.append(f"  classDef {kind} {_MERMAID_STYLES[kind]}")
            lines.append(f"  class {','.join(members)} {kind}")
    return "\n".join(lines) + "\n"


def to_dot(graph: Graph) -> str:
    """Graphviz DOT (``floe lineage --format dot | dot -Tsvg > lineage.svg``)."""
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {quote(graph.product)} {{", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for node in sorted(graph.nodes.values(), key=_order):
        lines.append(f"  {quote(node.id)} [label={quote(_label(node))}, shape={_DOT_SHAPES[node.kind]}];")
    for source, target in sorted(graph.edges):
        lines.append(f"  {quote(source)} -> {quote(target)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_json(graph: Graph) -> str:
    """``{"product", "nodes": [{id, kind, name, detail}], "edges": [{from, to}]}``."""
    return json.dumps({
        "product": graph.product,
        "nodes": [attrs.asdict(node) for node in sorted(graph.nodes.values(), key=_order)],
        "edges": [{"from": source, "to": target} for source, target in sorted(graph.edges)],
    }, indent=2) + "\n"


RENDERERS = {"mermaid": to_mermaid, "dot": to_dot, "json": to_json}


def _order(node: Node) -> tuple[int, str]:
    return KINDS.index(node.kind), node.name
