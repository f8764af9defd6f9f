"""A dbt project as Dagster assets: dbt runs in-process, results are published to Iceberg.

One asset per model, seed and snapshot, dbt tests as asset checks (:mod:`.dbt_specs`, built
from the manifest JSON so that loading a code location imports no dbt). The asset body runs dbt
in this process with ``dbtRunner`` — not dagster-dbt's ``DbtCliResource``, which runs
``dbt --version`` and a ``dbt parse`` subprocess on every run (measured at ~3.4× a plain
``dbt build``) — hands it the manifest compile parsed, and stages each table model only after
the whole build succeeded; the run commits every staged table at its end, so a failing model,
test or later asset leaves every published table at its last good snapshot.

Which nodes publish a table, into which namespace and how (replace, append, merge on a key)
comes from the artifacts' publish plan (``CompiledArtifacts.publish``); the manifest is read
once per transform, for the asset specs and dbt's in-memory manifest.
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import yaml

from floe.artifacts import DbtTransform, PlannedNode
from floe.diagnostics import FloeError
from floe.runtime.publish import Staged, stage_table
from floe_plugin_orchestrator_dagster import engine_tables
from floe_plugin_orchestrator_dagster.dbt_specs import DbtSpecs, selected_ids
from floe_plugin_orchestrator_dagster.resource import failing_as

if TYPE_CHECKING:
    from floe.runtime import RunContext

#: The publish plan's write modes as floe.runtime.publish names them.
PUBLISH_MODES = {"replace": "overwrite", "append": "append", "merge": "merge"}


class PreparedDbtProject:
    """One transform's dbt project prepared for a run: manifest loaded, profile written.

    ``floe compile`` has just parsed the project (``dbt parse`` in a child process, cached by
    fingerprint under ``.floe/dbt/<transform>/``); run time loads that manifest instead of
    parsing again, which saves the parse (seconds) on every run.
    """

    def __init__(self, transform: DbtTransform, context: "RunContext"):
        from floe.dbt_project import follow_move, fresh_manifest

        self.transform = transform
        self.context = context
        self.project_dir = context.path(transform.project_dir)
        self.work_dir = context.state_dir / "dbt" / transform.name
        self.run_dir = self.work_dir / "run"
        compiled = context.artifacts.dbt.profiles[transform.profile]["outputs"][transform.target]
        # Fresh after `floe run`'s compile; for definitions loaded from older artifacts (floe dev)
        # this re-parses only when the project changed since.
        self.manifest_path = fresh_manifest(context.product_dir, transform.project_dir, transform.name,
                                            transform.profile, transform.target, compiled, transform.vars)
        #: The publish plan's nodes of this transform, by unique_id.
        self.plan = context.artifacts.publish.of_transform(transform.name)
        # The one read of the manifest in a run: the asset specs are built from this dict, and
        # dbt's in-memory manifest too.
        self.manifest_json = json.loads(self.manifest_path.read_bytes())
        follow_move(self.manifest_json, self.project_dir)
        self.nodes = self.manifest_json["nodes"]
        self.adapter = compiled.get("type")
        #: True when the compute engine writes the catalog's tables itself (see engine_tables).
        self.engine_writes_tables = context.compute_writes_tables()
        if self.engine_writes_tables:
            engine_tables.place_in_layers(self)

    @functools.cached_property
    def specs(self) -> DbtSpecs:
        """The project's Dagster asset and check specs, and every node's asset key."""
        def layer_of(unique_id: str) -> str | None:
            return self.planned(unique_id).layer

        selected = selected_ids(self.manifest_json, self.transform.select, self.transform.exclude,
                                self.project_dir)
        return DbtSpecs(self.manifest_json, layer_of, adapter=self.adapter, selected=selected)

    @functools.cached_property
    def manifest(self) -> Any:
        """dbt's in-memory manifest, which only a build needs.

        Loading a code location (``dagster code-server``, ``floe dev``) builds the assets from
        ``manifest_json`` alone; importing dbt's contracts and building these objects was about
        half of the load time of a 1,000-model product, so it waits until a run asks for it.
        """
        return _load_manifest(self.manifest_json)

    def planned(self, unique_id: str) -> PlannedNode:
        """The publish plan's entry of a node (its layer, its table)."""
        node = self.plan.get(unique_id)
        if node is None:
            raise FloeError(f"transform '{self.transform.name}': dbt node {unique_id} is not in the "
                            "compiled artifacts' publish plan (the project changed since it was "
                            "compiled); run `floe compile` again")
        return node

    def args(self, command: str, *extra: str) -> list[str]:
        """Command-line arguments for an in-process dbt command on this project."""
        return [command, "--project-dir", str(self.project_dir), "--profiles-dir", str(self.profiles_dir),
                "--profile", self.transform.profile, "--target", self.transform.target,
                "--target-path", str(self.run_dir / "target"), "--log-path", str(self.work_dir / "logs"),
                "--log-level", "none", "--log-level-file", "debug", "--no-send-anonymous-usage-stats",
                *extra]

    @functools.cached_property
    def profiles_dir(self) -> Path:
        """The folder of the ``profiles.yml`` dbt runs with, written on first use.

        The profile comes from the artifacts (no hand-written profiles.yml); secrets appear in
        it only as env_var() references, so the file holds nothing secret. Written when a run
        first needs it, not when a code location loads, whose files may be read-only.
        """
        profiles = {self.transform.profile: {"target": self.transform.target,
                                             "outputs": {self.transform.target: self.context.dbt_output()}}}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "profiles.yml").write_text(yaml.safe_dump(profiles, sort_keys=True))
        return self.run_dir


def _load_manifest(data: dict[str, Any]) -> Any:
    """dbt's in-memory manifest, rebuilt from the manifest.json compile wrote (already read).

    The file was written by this dbt (compile's ``dbt parse``), so no schema upgrade applies;
    building the objects does not change ``data``, which the asset specs are read from as well.
    """
    from dbt.contracts.graph.manifest import Manifest, WritableManifest
    from dbt.contracts.graph.nodes import GenericTestNode

    manifest = Manifest.from_writable_manifest(WritableManifest.upgrade_schema_version(data))
    # Reading JSON, dbt takes every test for a singular one and drops `test_metadata`, without
    # which a generic test (unique, not_null, ...) cannot compile; restore those nodes.
    for unique_id, node in data["nodes"].items():
        if node["resource_type"] == "test" and node.get("test_metadata"):
            manifest.nodes[unique_id] = GenericTestNode.from_dict(node)
    return manifest


def build_assets(project: PreparedDbtProject) -> Any:
    """The Dagster assets of one transform's dbt project: one asset per model, seed and
    snapshot, each dbt test an asset check, built and published by one step."""
    from dagster import multi_asset

    transform = project.transform
    specs = project.specs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)

        @multi_asset(specs=specs.assets, check_specs=specs.checks, can_subset=True,
                     name=f"dbt_{transform.name}", required_resource_keys={"floe"})
        def transform_assets(context):  # noqa: ANN001 - Dagster resolves this annotation itself
            floe = context.resources.floe
            # observability: a span and lineage for the step and each node (floe.observability)
            with floe.step(), floe.observer.dbt_build(transform.name, context.run_id):
                yield from _build_and_publish(context, project)

    return transform_assets


def _build_and_publish(context: Any, project: PreparedDbtProject) -> Iterator[Any]:
    from dagster import Failure, MaterializeResult
    from dbt.cli.main import dbtRunner

    floe = context.resources.floe
    request = floe.request
    key_of = project.specs.key_of
    checks = {(key.asset_key, key.name) for key in context.selected_asset_check_keys}
    extra: list[str] = []
    selected = [project.nodes[uid]["name"] for uid, key in key_of.items()
                if uid in project.nodes and key in context.selected_asset_keys]
    if context.is_subset or request.select:
        extra += ["--select", request.select or " ".join(selected)]
    elif project.transform.select:
        extra += ["--select", project.transform.select]
    exclude = request.exclude or project.transform.exclude
    if exclude:
        extra += ["--exclude", exclude]
    if request.full_refresh:
        extra.append("--full-refresh")
    if project.transform.vars:
        extra += ["--vars", json.dumps(project.transform.vars, sort_keys=True)]

    def on_event(event: Any) -> None:
        if event.info.name == "NodeFinished":
            info = event.data.node_info
            floe.progress(f"dbt      {info.node_name:<36} {info.node_status}")

    # --no-write-json: the results are in memory; rewriting manifest.json costs ~0.2 s a run.
    # The arguments first: writing the profile registers its env_var() secrets, which dbt_env
    # then puts in the environment, only for this call (also when the run was launched from
    # the Dagster UI rather than `floe run`).
    args = project.args("build", "--no-write-json", *extra)
    with floe.context.dbt_env():
        result = dbtRunner(manifest=project.manifest, callbacks=[on_event]).invoke(args)
    results = list(getattr(result.result, "results", None) or [])
    floe.observer.dbt_finished(results, project.transform.name)  # observability
    if not results and not result.success:
        raise Failure(description=f"dbt build failed: {_dbt_error(result)}")
    check_results, failures = _checks_and_failures(results, project, key_of, checks)
    yield from check_results
    built = [item.node for item in results
             if item.node.resource_type in ("model", "seed", "snapshot") and str(item.status) == "success"
             and key_of.get(item.node.unique_id) in context.selected_asset_keys]
    to_publish = [node for node in built if project.planned(node.unique_id).table is not None]
    if failures or not result.success:
        asset, message = failures[0] if failures else (None, _dbt_error(result))
        if project.engine_writes_tables:
            # The engine committed each table as dbt built it: those stay written, say so.
            try:
                engine_tables.report(floe, project, to_publish)
            except Exception as exc:  # noqa: BLE001 - the build's failure is the one to report
                message += (f" (the {len(to_publish)} table(s) the engine wrote before it could not "
                            f"be read back from the catalog: {type(exc).__name__}: {exc})")
        raise Failure(description=message, metadata={"failed_asset": asset or "", "failures": len(failures)})

    if project.engine_writes_tables:
        published = engine_tables.report(floe, project, to_publish)
    else:
        published = _publish_models(floe, project, to_publish)
    timing = {item.node.unique_id: round(item.execution_time, 3) for item in results}
    for node in built:
        metadata: dict[str, Any] = {"materialized": node.config.materialized,
                                    "seconds": timing[node.unique_id]}
        table = published.get(node.unique_id)
        if table is not None:
            metadata.update(table=table.table, rows=table.rows, snapshot_id=str(table.snapshot_id),
                            mode=table.mode)
        yield MaterializeResult(asset_key=key_of[node.unique_id], metadata=metadata)


def _checks_and_failures(results: list[Any], project: PreparedDbtProject, key_of: dict[str, Any],
                         checks: set[tuple[Any, str]]) -> tuple[list[Any], list[tuple[str, str]]]:
    """Asset check results for the dbt tests that ran, and every failure (model, message)."""
    from dagster import AssetCheckResult

    check_results = []
    failures = []
    for item in results:
        node = item.node
        status = str(item.status)
        if node.resource_type == "test":
            attached = getattr(node, "attached_node", None)
            passed = status in ("pass", "warn")
            if not passed:
                model = project.nodes.get(attached, {}).get("name", attached or "(several models)")
                failures.append((model, f"test '{node.name}' on model '{model}' failed: "
                                        f"{item.message or status}"))
            key = key_of.get(attached)
            if key is not None and (key, node.name) in checks:
                check_results.append(AssetCheckResult(asset_key=key, check_name=node.name,
                                                      passed=passed, metadata={"dbt_status": status}))
        elif status in ("error", "runtime error", "fail"):
            failures.append((node.name, f"model '{node.name}' failed: {item.message or status}"))
    return check_results, failures


def _publish_models(floe: Any, project: PreparedDbtProject, nodes: list[Any]) -> dict[str, Any]:
    """Stage the built table models in the run's publisher; the run commits them at its end.

    A model whose table cannot take its new schema fails the run before any table changes.
    """
    publisher = floe.publisher()
    reader = floe.context.compute_reader()
    try:
        for node in nodes:
            publisher.submit(node.unique_id, lambda node=node: _stage_model(floe, publisher, reader, project, node))
        staged = publisher.wait([node.unique_id for node in nodes])
    finally:
        reader.close()
    return {key: item.result for key, item in staged.items()}


def _stage_model(floe: Any, publisher: Any, reader: Any, project: PreparedDbtProject, node: Any) -> Staged:
    """Read a built model from the compute engine and stage it for its Iceberg table."""

    catalog = floe.context.catalog
    planned = project.planned(node.unique_id).table
    assert planned is not None
    namespace, name = planned.namespace, planned.name
    relation = (node.schema, node.alias or node.name)
    keys = list(planned.unique_key) or None
    mode, offset = PUBLISH_MODES[planned.mode], 0
    if floe.request.full_refresh:
        mode = "overwrite"
    elif mode == "append":
        # dbt-duckdb appends an incremental model's new rows after the old ones (DuckDB keeps
        # insertion order), so the rows past what Iceberg already holds are this run's rows.
        published = _published_rows(catalog, namespace, name)
        total = reader.count(*relation)
        if published is None or published > total:
            mode = "overwrite"  # first publish, or the model was rebuilt: take it whole
        else:
            offset = published
    with failing_as(node.name):
        staged = stage_table(catalog, namespace, name, lambda: reader.read(*relation, offset=offset),
                       asset=node.name, mode=mode, unique_key=keys, journal=publisher.journal)
    floe.observer.table_published(staged.result, staged.schema)  # observability
    return staged


def _published_rows(catalog: Any, namespace: str, name: str) -> int | None:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        snapshot = catalog.load_table((namespace, name)).current_snapshot()
    except NoSuchTableError:
        return None
    if snapshot is None or snapshot.summary is None:
        return 0
    return int(snapshot.summary.get("total-records", 0))


def _dbt_error(result: Any) -> str:
    if result.exception is not None:
        return str(result.exception).strip()
    return "see .floe/dbt/*/logs/dbt.log"


def dbt_projects(context: "RunContext") -> list[PreparedDbtProject]:
    """Prepare every transform of the product."""
    return [PreparedDbtProject(transform, context) for transform in context.artifacts.dbt.transforms]

