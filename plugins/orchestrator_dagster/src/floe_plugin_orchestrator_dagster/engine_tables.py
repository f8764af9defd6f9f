"""Table models an engine writes into the catalog itself (``floe_compute_writes_tables``).

On such an engine floe publishes nothing: before dbt runs, each table model is placed in the
schema of its layer (the catalog namespace floe would have published it to), so the engine
creates it there; afterwards floe reads each table's new snapshot from the catalog to report it
like a table floe published. dbt's views and seeds stay in the target's own schema.

The engine commits each table as dbt builds it, so a run that fails part-way leaves the tables
built before the failure written: there is no single commit at the end of the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from floe.runtime.outcome import TableResult

if TYPE_CHECKING:
    from floe_plugin_orchestrator_dagster.dbt_assets import PreparedDbtProject



def place_in_layers(project: "PreparedDbtProject") -> None:
    """Point every table model of the manifest at its layer's schema, and give an incremental
    model with a unique key dbt's ``merge`` strategy when it names none.

    Done on the manifest's JSON, which the asset specs are read from and dbt's in-memory
    manifest is built from when a run needs it, so loading a code location builds no dbt objects.
    """
    for unique_id, node in project.nodes.items():
        planned = project.plan.get(unique_id)
        if node.get("resource_type") != "model" or planned is None or planned.table is None:
            continue
        layer = planned.table.namespace
        if node.get("relation_name"):
            # database.schema.identifier, each part quoted or not as the adapter renders it;
            # floe's names (validated identifiers) contain no dots.
            parts = node["relation_name"].split(".")
            if len(parts) == 3:
                parts[1] = parts[1].replace(node["schema"], layer)
                node["relation_name"] = ".".join(parts)
        node["schema"] = layer
        if planned.table.mode == "merge" and not node.get("config", {}).get("incremental_strategy"):
            # The plan merges an incremental model with a unique_key on that key, as floe does
            # when it publishes; dbt's default strategy appends on many adapters (dbt-trino's),
            # which would keep both the old and the new row of a key.
            node.setdefault("config", {})["incremental_strategy"] = "merge"


def report(floe: Any, project: "PreparedDbtProject", nodes: list[Any]) -> dict[str, TableResult]:
    """The tables the engine just wrote, as the catalog now holds them.

    Called after a failed build too, with the models that did build: the engine committed
    them, so the run reports them as written.
    """
    from floe_plugin_orchestrator_dagster.dbt_assets import PUBLISH_MODES

    catalog = floe.context.catalog
    out = {}
    for node in nodes:
        planned = project.planned(node.unique_id).table
        namespace, name = planned.namespace, planned.name
        table = catalog.load_table((namespace, name))
        snapshot = table.current_snapshot()
        summary = snapshot.summary if snapshot is not None else None
        mode = "overwrite" if floe.request.full_refresh else PUBLISH_MODES[planned.mode]
        result = TableResult(asset=node.name, table=f"{namespace}.{name}",
                             rows=_rows(summary, appended=mode == "append"),
                             snapshot_id=snapshot.snapshot_id if snapshot is not None else 0,
                             mode=mode)
        floe.observer.table_published(result, table.schema().as_arrow())  # observability
        floe.published(result)
        out[node.unique_id] = result
    return out


def _rows(summary: Any, appended: bool) -> int:
    """The rows a snapshot's summary counts, as floe reports them when it publishes: the rows
    an appending model appended this run, else the rows the table now holds.

    An engine that merges writes position deletes beside the data (Trino on Iceberg v2):
    the table then holds its records less those deletes.
    """
    if summary is None:
        return 0
    if appended:
        return int(summary.get("added-records", 0))
    return int(summary.get("total-records", 0)) - int(summary.get("total-position-deletes", 0))
