"""The product's lineage graph for ``floe lineage``: sources, seeds, models, Python assets and
the Iceberg tables they publish, drawn as Mermaid (pastes into Markdown docs), DOT or JSON.

The graph is what the product *would* produce, read from the compiled artifacts' publish plan
(``CompiledArtifacts.publish``) alone; it needs no run, no lineage server and no orchestrator.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from floe.artifacts import CompiledArtifacts

#: Node kinds, in the order the legend and the output list them.
NODE_KINDS = ("source", "seed", "snapshot", "model", "python", "table")
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


def build_graph(artifacts: "CompiledArtifacts") -> Graph:
    """The lineage graph of a compiled product, from its publish plan."""
    graph = Graph(artifacts.product.name)
    plan = artifacts.publish.nodes
    ids: dict[tuple[str | None, str], str] = {}  # (transform, plan id) -> graph node id
    reads: dict[str, str] = {}  # plan id -> graph node its readers read (its table, if any)
    for node in plan:
        detail = node.materialized if node.kind == "model" else None
        graph_id = graph.add(node.kind, node.name, detail)
        ids[(node.transform, node.id)] = graph_id
        reads[node.id] = graph_id
        if node.table is not None:
            table = graph.add("table", node.table.identifier)
            graph.link(graph_id, table)
            reads[node.id] = table
    for node in plan:
        target = ids[(node.transform, node.id)]
        for upstream in node.depends_on:
            # dbt nodes read each other in the compute engine; a Python asset reads tables.
            source = reads.get(upstream) if node.kind == "python" else ids.get((node.transform, upstream))
            if source is not None:
                graph.link(source, target)
    return graph


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
    for kind in NODE_KINDS:
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
    return NODE_KINDS.index(node.kind), node.name
