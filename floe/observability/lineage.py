"""OpenLineage RunEvents as plain JSON-ready dicts.

The run observer builds events as dicts, which costs nothing on the run's path; they follow the
OpenLineage spec (core 2-0-2 and the facets' own versions, the schema URLs below). A run whose
lineage goes through openlineage-python (a transport from platform.yaml, ``OPENLINEAGE_URL``,
``openlineage.yml``) turns them into its ``event_v2`` objects on the sender's thread
(:mod:`floe.observability.openlineage_client`), so that import never delays a run; floe's own
local file stores the dicts as they are.

Naming (OpenLineage's naming conventions, applied to floe):

- a **job** is ``<product>`` for the floe run and ``<product>.<asset>`` for each asset or dbt
  node, in the job namespace: the platform's ``lineage_namespace``, else the product's name;
- a **dataset** lives in the catalog's namespace (``iceberg://<catalog name>``, or the REST
  catalog's URI with its warehouse) and is named ``<layer>.<table>``, as in the catalog.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

#: floe's repository, as pyproject.toml's ``[project.urls] Repository`` names it.
REPOSITORY_URL = "https://github.com/Obsidian-Owl/floe"
#: Who produced the events (OpenLineage's ``producer``, a URI naming the producing software).
PRODUCER = REPOSITORY_URL
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets"
FACET_SCHEMAS = {
    "parent": f"{_FACETS}/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet",
    "errorMessage": f"{_FACETS}/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "jobType": f"{_FACETS}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    "sql": f"{_FACETS}/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet",
    "schema": f"{_FACETS}/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
    "version": f"{_FACETS}/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
    "outputStatistics": (f"{_FACETS}/1-0-2/OutputStatisticsOutputDatasetFacet.json"
                         "#/$defs/OutputStatisticsOutputDatasetFacet"),
}


def facet(kind: str, **fields: Any) -> dict[str, Any]:
    """A facet of a kind listed in :data:`FACET_SCHEMAS`, with ``_producer`` and ``_schemaURL``."""
    return {"_producer": PRODUCER, "_schemaURL": FACET_SCHEMAS[kind], **fields}


def timestamp(when: dt.datetime) -> str:
    """ISO 8601 with a time zone, as the spec requires (naive times are taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.isoformat()


def catalog_namespace(catalog: Any) -> str:
    """The dataset namespace of a resolved catalog section (``artifacts.profiles.catalog``).

    A REST catalog is named by its URI (plus the warehouse), as two products on one catalog
    must share dataset names; an embedded catalog by ``iceberg://<catalog name>``.
    """
    config = catalog.config
    uri = config.get("uri")
    if isinstance(uri, str) and uri:
        warehouse = config.get("warehouse")
        return f"{uri.rstrip('/')}/{warehouse}" if warehouse else uri.rstrip("/")
    return f"iceberg://{config.get('name') or catalog.profile}"


def schema_fields(schema: Any) -> list[dict[str, str]]:
    """Schema facet fields from a ``pyarrow.Schema`` (or any iterable of name/type fields)."""
    return [{"name": field.name, "type": str(field.type)} for field in schema]


def dataset(namespace: str, name: str, *, fields: list[dict[str, str]] | None = None,
            rows: int | None = None, version: str | None = None) -> dict[str, Any]:
    """A dataset with its schema, and, for a table just written, row count and snapshot."""
    facets: dict[str, Any] = {}
    if fields:
        facets["schema"] = facet("schema", fields=fields)
    if version is not None:
        facets["version"] = facet("version", datasetVersion=version)
    out: dict[str, Any] = {"namespace": namespace, "name": name, "facets": facets}
    if rows is not None:
        out["outputFacets"] = {"outputStatistics": facet("outputStatistics", rowCount=rows)}
    return out


def run_event(event_type: str, *, run_id: str, namespace: str, job: str, when: dt.datetime,
              parent: Mapping[str, str] | None = None, job_type: tuple[str, str] | None = None,
              sql: str | None = None, error: str | None = None,
              inputs: Iterable[dict] = (), outputs: Iterable[dict] = ()) -> dict[str, Any]:
    """One RunEvent.

    :param parent: ``{"run_id", "namespace", "job"}`` of the floe run an asset belongs to.
    :param job_type: ``(integration, jobType)``, e.g. ``("DBT", "MODEL")``.
    :param sql: the compiled SQL of a dbt model.
    :param error: the failure message of a FAIL event.
    """
    run_facets: dict[str, Any] = {}
    if parent is not None:
        run_facets["parent"] = facet("parent", run={"runId": parent["run_id"]},
                                     job={"namespace": parent["namespace"], "name": parent["job"]})
    if error is not None:
        run_facets["errorMessage"] = facet("errorMessage", message=error[:4000],
                                           programmingLanguage="python")
    job_facets: dict[str, Any] = {}
    if job_type is not None:
        job_facets["jobType"] = facet("jobType", processingType="BATCH", integration=job_type[0],
                                      jobType=job_type[1])
    if sql:
        job_facets["sql"] = facet("sql", query=sql)
    return {"eventType": event_type, "eventTime": timestamp(when), "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
            "run": {"runId": run_id, "facets": run_facets},
            "job": {"namespace": namespace, "name": job, "facets": job_facets},
            "inputs": list(inputs), "outputs": list(outputs)}
