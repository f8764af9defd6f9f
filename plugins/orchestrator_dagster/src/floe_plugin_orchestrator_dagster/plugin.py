"""Orchestrator ``dagster``: one job per transform, one Dagster schedule per product schedule.

A schedule that runs exactly one transform targets that transform's job; one that runs several
(or, by leaving ``transforms`` out, all of them) gets a job of its own, ``<schedule>_job``.
Names are turned into valid Dagster names here, deterministically, so that a transform called
``customer-orders`` never fails at run time.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

import attrs

from floe.builtin.paths import relative_path
from floe.plugins import ResolveContext, hookimpl
from floe.schema.structure import Invalid, field_check

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")
#: Names Dagster refuses for jobs and schedules although their characters are valid.
_RESERVED = frozenset({"context", "conf", "config", "meta", "arg_dict", "dict", "input_arg_dict",
                       "output_arg_dict", "int", "str", "float", "bool", "input", "output",
                       "type", *keyword.kwlist})


@field_check
def _at_least_one(value: int) -> None:
    if value < 1:
        raise Invalid(f"max_concurrent_runs must be at least 1, got {value}")


@field_check
def _host(value: str) -> None:
    if not value or any(ch.isspace() or ch == "/" for ch in value):
        raise Invalid(f"'{value}' is not a host name or address; write e.g. 127.0.0.1, or 0.0.0.0 "
                      "to listen on every interface")


@field_check
def _port(value: int) -> None:
    if not 1 <= value <= 65535:
        raise Invalid(f"{value} is not a TCP port (1-65535); write e.g. 3000")


@attrs.frozen
class Webserver:
    """Where ``floe dev`` serves the Dagster UI."""

    host: str = attrs.field(default="127.0.0.1", validator=_host)
    port: int = attrs.field(default=3000, validator=_port)


@attrs.frozen
class DagsterOrchestrator:
    """Run storage inside the product, a concurrency limit and the UI's address."""

    run_storage: str = attrs.field(default=".floe/dagster", validator=relative_path)
    max_concurrent_runs: int = attrs.field(default=1, validator=_at_least_one)
    webserver: Webserver = Webserver()


@hookimpl
def floe_orchestrator_settings() -> type:
    """Dagster: ``run_storage``, ``max_concurrent_runs`` and ``webserver: {host, port}``."""
    return DagsterOrchestrator


@hookimpl
def floe_orchestrator_resolve(settings: DagsterOrchestrator, context: ResolveContext) -> dict:
    """Resolve the settings and, when a product is compiled, its jobs and schedules."""
    out: dict[str, Any] = {
        "run_storage": settings.run_storage,
        "max_concurrent_runs": settings.max_concurrent_runs,
        "webserver": {"host": settings.webserver.host, "port": settings.webserver.port},
    }
    if context.product is not None:
        out.update(product_definitions(context.product))
    return out


def product_definitions(product: Any) -> dict[str, list[dict]]:
    """The jobs and schedules of a validated product, with valid and unique Dagster names.

    :param product: a :class:`floe.schema.product.DataProduct`.
    :returns: ``{"jobs": [...], "schedules": [...]}`` in the product's order: transform jobs
        first, then the jobs of schedules that run several transforms.
    """
    # Names that are valid as written keep them; only rewritten names can be numbered, so
    # adding `customer-orders` never renames an existing `customer_orders` job.
    job_names = {t.name for t in product.transforms if dagster_name(t.name, "job") == t.name}
    jobs: list[dict] = []
    job_of: dict[str, str] = {}
    for transform in product.transforms:
        name = transform.name if transform.name in job_names else \
            _unique(dagster_name(transform.name, "job"), job_names)
        job_of[transform.name] = name
        jobs.append({"name": name, "transforms": [transform.name],
                     "select": transform.select, "exclude": transform.exclude})
    schedule_names: set[str] = set()
    schedules: list[dict] = []
    for schedule in product.schedules:
        # An empty or missing list means every transform; duplicates would run a model twice.
        wanted = schedule.transforms or [t.name for t in product.transforms]
        targets = [name for name in dict.fromkeys(wanted) if name in job_of]
        base = dagster_name(schedule.name, "schedule")
        if len(targets) == 1:
            job = job_of[targets[0]]
        else:
            # Each transform keeps its own select/exclude, which run time reads from the transform.
            job = _unique(f"{base}_job", job_names)
            jobs.append({"name": job, "transforms": targets})
        schedules.append({"name": _unique(base, schedule_names), "cron": schedule.cron,
                          "timezone": schedule.timezone, "enabled": schedule.enabled, "job": job})
    return {"jobs": jobs, "schedules": schedules}


def dagster_name(name: str, kind: str) -> str:
    """A valid Dagster name for ``name``: ``customer-orders`` → ``customer_orders``.

    Characters other than letters, digits and ``_`` become ``_``; a name Dagster reserves
    (``config``, Python keywords) gets ``_<kind>`` appended, and an empty one becomes ``kind``.
    """
    out = _NOT_NAME.sub("_", name)
    if not out:
        return kind
    return f"{out}_{kind}" if out in _RESERVED else out


def _unique(name: str, taken: set[str]) -> str:
    # Two names may map to one (a-b and a_b); numbering in product order keeps compile deterministic.
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


@hookimpl
def floe_orchestrator_run(config: dict, context: Any, request: Any) -> Any:
    """Run the product in this process with Dagster (see :mod:`.definitions`)."""
    from floe_plugin_orchestrator_dagster import definitions

    return definitions.run(config, context, request)


@hookimpl
def floe_orchestrator_definitions(config: dict, context: Any) -> Any:
    """The product's ``dagster.Definitions``."""
    from floe.runtime import RunRequest
    from floe_plugin_orchestrator_dagster import definitions

    return definitions.build_definitions(context, RunRequest())[0]


@hookimpl
def floe_orchestrator_serve(config: dict, context: Any, host: str, port: int) -> int:
    """Serve the Dagster UI for the product (see :mod:`.serve`)."""
    from floe_plugin_orchestrator_dagster import serve

    return serve.serve(config, context, host, port)
