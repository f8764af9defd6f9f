"""Dagster ``Definitions`` for a compiled product, and its execution by ``floe run``."""

from __future__ import annotations

import gc
import json
import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.artifacts import DEFAULT_PATH, CompiledArtifacts
from floe.diagnostics import FloeError
from floe.runtime import RunContext, RunOutcome, RunRequest, compat
from floe_plugin_orchestrator_dagster.dbt_assets import build_assets, dbt_projects
from floe_plugin_orchestrator_dagster.python_assets import asset_names, build_asset, planned_assets
from floe_plugin_orchestrator_dagster.resource import FloeRun

if TYPE_CHECKING:
    from dagster import Definitions

#: The Dagster home floe manages: no run phones home; runs launched from the UI are queued, at
#: most ``max_concurrent_runs`` at once; events go to the SQLite event log Dagster would use,
#: through a storage class that keeps its connections open.
INSTANCE_YAML = """\
# Written by floe for this product's Dagster home (floe run, floe dev); floe rewrites it.
telemetry:
  enabled: false
event_log_storage:
  module: floe_plugin_orchestrator_dagster.event_storage
  class: FloeSqliteEventLogStorage
  config:
    base_dir: {runs}
run_coordinator:
  module: {coordinator_module}
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {max_runs}
"""


class FloeDefinitions:
    """The one-line entry point for ``dagster dev`` and code locations::

        from floe_plugin_orchestrator_dagster import FloeDefinitions

        defs = FloeDefinitions.from_compiled_artifacts(".floe/compiled_artifacts.json")
    """

    @staticmethod
    def from_compiled_artifacts(path: str | os.PathLike = DEFAULT_PATH,
                                product_dir: str | os.PathLike | None = None) -> "Definitions":
        """Definitions for the product whose artifacts are at ``path``.

        :param product_dir: where the product lives; default: the folder holding ``.floe/``.
        """
        path = Path(path).resolve()
        artifacts = CompiledArtifacts.read(path)
        context = RunContext(artifacts, Path(product_dir) if product_dir else path.parent.parent)
        # Loading makes hundreds of thousands of long-lived objects (the specs, Dagster's asset
        # graph and jobs) and next to no garbage, so the collector's passes during it only
        # re-scan them: ~0.4 s of a 1,000-model load, measured. Collection waits until the
        # definitions are resolved (as a code server resolves them right after import), then
        # what was loaded moves out of the collector's view for the life of the process.
        gc.disable()
        try:
            definitions = build_definitions(context, RunRequest())[0]
            definitions.get_repository_def().load_all_definitions()
        finally:
            gc.enable()
        gc.freeze()
        return definitions


def build_definitions(context: RunContext, request: RunRequest) -> tuple["Definitions", FloeRun, list]:
    """Assets, jobs, schedules and the ``floe`` resource of a product."""
    from dagster import (AssetSelection, DefaultScheduleStatus, Definitions, ScheduleDefinition,
                         define_asset_job)

    config = context.artifacts.orchestrator.config if context.artifacts.orchestrator else {}
    projects = dbt_projects(context)
    dbt_defs = {project.transform.name: build_assets(project) for project in projects}
    names = asset_names(context)
    python_defs = [build_asset(spec, node, names) for spec, node in planned_assets(context)]
    resource = FloeRun(context, request)
    resource.dbt_projects = projects
    python_selection = AssetSelection.assets(*python_defs) if python_defs else None
    jobs = []
    for job in config.get("jobs", []):
        selection = AssetSelection.assets(*[dbt_defs[name] for name in job["transforms"]])
        if python_selection is not None:
            selection = selection | (python_selection & selection.downstream())
        jobs.append(define_asset_job(job["name"], selection=selection))
    schedules = [ScheduleDefinition(
        name=s["name"], cron_schedule=s["cron"], job_name=s["job"], execution_timezone=s["timezone"],
        default_status=DefaultScheduleStatus.RUNNING if s["enabled"] else DefaultScheduleStatus.STOPPED)
        for s in config.get("schedules", [])]
    assets = [*dbt_defs.values(), *python_defs]
    definitions = Definitions(assets=assets, jobs=jobs, schedules=schedules,
                              resources={"floe": resource})
    return definitions, resource, assets


def instance(context: RunContext, config: dict) -> Any:
    """The Dagster instance whose run history lives under the product's ``.floe/``."""
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(write_home(context, config)))


def write_home(context: RunContext, config: dict) -> Path:
    """The product's Dagster home, with the ``dagster.yaml`` floe writes for it."""
    home = context.path(config.get("run_storage", ".floe/dagster"))
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    # Rewritten when it differs: the product folder may have moved since it was written.
    wanted = INSTANCE_YAML.format(runs=json.dumps(str(home.resolve() / "history" / "runs")),
                                  max_runs=int(config.get("max_concurrent_runs", 1)),
                                  coordinator_module=compat.QUEUED_RUN_COORDINATOR_MODULE)
    if not settings.exists() or settings.read_text() != wanted:
        settings.write_text(wanted)
    return home


def run(config: dict, context: RunContext, request: RunRequest) -> RunOutcome:
    """Build the product's assets in this process and report what was published."""
    from floe.observability import observe_run

    # -- observability: one observer per run, flushed (bounded) when the block ends; its
    # warnings (an endpoint down) are progress lines of the run.
    with observe_run(context, warn=request.progress) as observer:
        outcome = _run(config, context, request, observer)
        observer.run_finished(outcome)
    return outcome


def _run(config: dict, context: RunContext, request: RunRequest, observer: Any) -> RunOutcome:
    from dagster import materialize

    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _, resource, assets = build_definitions(context, request)
        resource.observer = observer
        for project in resource.dbt_projects:
            project.manifest  # noqa: B018 - a run builds, so load dbt's manifest before the freeze
        # Everything loaded so far (Dagster, dbt, the manifest) lives until the run ends; moving
        # it out of the garbage collector's view stops every collection during the build and
        # the publish from re-scanning millions of long-lived objects.
        # They stay frozen after the run: unfreezing hands them back to the collector, whose
        # next full pass (at the latest when the interpreter exits) re-scans them all, ~0.5 s
        # of every `floe run` (measured). A process that runs many times keeps what each
        # run loaded, as it would keep its imports anyway.
        gc.freeze()
        try:
            with instance(context, config) as dagster_instance:
                result = materialize(
                    assets, instance=dagster_instance, resources={"floe": resource},
                    raise_on_error=False, tags={"floe/product": context.artifacts.product.name},
                    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
                prune_history(dagster_instance)
            failed_asset, error = (None, None) if result.success else _failure(result)
            if result.success:
                # Every asset built and staged its tables: they become visible together now.
                try:
                    resource.commit()
                except FloeError as exc:
                    failed_asset, error = "catalog commit", str(exc)
        finally:
            resource.discard()  # a failed run: what it staged is deleted, no table changed
    return RunOutcome(success=error is None, run_id=result.run_id, tables=tuple(resource.tables),
                      failed_asset=failed_asset, error=error, seconds=time.monotonic() - started,
                      commit=resource.committed_how)


#: Dagster runs kept in the product's history (each holds its event log, ~0.5 MB); older ones
#: are deleted after every run, as floe's own run log is trimmed.
KEEP_RUNS = 20


def prune_history(dagster_instance: Any, keep: int = KEEP_RUNS) -> int:
    """Delete all but the ``keep`` most recent finished runs; return how many were deleted.

    A history that cannot be pruned (a locked or damaged database) never fails the run.
    """
    from dagster import DagsterRunStatus, RunsFilter

    finished = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
    try:
        old = dagster_instance.get_run_ids(RunsFilter(statuses=finished), cursor=None, limit=None)[keep:]
        for run_id in old:
            dagster_instance.delete_run(run_id)
    except Exception:  # noqa: BLE001 - housekeeping; the next run tries again
        return 0
    return len(old)


def _failure(result: Any) -> tuple[str | None, str]:
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        user = data.user_failure_data
        if user is not None:
            asset = user.metadata.get("failed_asset")
            return (asset.value if asset is not None else event.step_key) or event.step_key, user.description
        error = data.error
        # A user's exception arrives wrapped in Dagster's step error; report the innermost cause.
        while error is not None and error.cause is not None:
            error = error.cause
        return event.step_key, error.message.strip() if error else "step failed"
    return None, "the run failed; see the Dagster run log under .floe/dagster"
