"""Compute ``duckdb``: dbt-duckdb on a database file inside the product.

The profile resolves to the dbt target run time writes into ``profiles.yml``. ``threads`` and
``memory_limit`` may be written at the top of the profile or, as in the seed documents, under
``properties``; both spellings resolve to the same target.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal, get_args

import attrs

from floe.diagnostics import did_you_mean, dotted
from floe.plugins import ResolveContext, hookimpl
from floe.schema.structure import Invalid, field_check
from floe.schema.types import parse_secret_ref
from floe_plugin_compute_duckdb import setting_names

#: Extensions run time installs from PyPI wheels (``duckdb-ext-<name>``) rather than from
#: DuckDB's extension server, which an offline or locked-down machine cannot reach.
Extension = Literal["avro", "httpfs", "iceberg", "json", "parquet"]
EXTENSIONS = get_args(Extension)

_MEMORY = re.compile(r"\d+(\.\d+)?\s?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
_PERCENT = re.compile(r"(100|[1-9][0-9]?)%")
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Settings whose values are secrets (s3_secret_access_key, http_proxy_password, motherduck_token).
_SENSITIVE = re.compile(r"secret|password|token", re.IGNORECASE)
#: Settings that have a key of their own in the profile; one place each keeps them unambiguous.
_OWN_KEYS = ("threads", "memory_limit")
#: DuckDB matches setting names without regard to case.
_LOWER_NAMES = frozenset(name.lower() for name in setting_names.NAMES)


#: More threads than any machine has cores; DuckDB itself fails only at run time (or overflows).
MAX_THREADS = 4096
#: Below this DuckDB fails with "Out of Memory" on the smallest tables (measured: 16MB fails a
#: 300,000-row aggregate, 32MB passes), which a run would report only after seconds of work.
MIN_MEMORY_BYTES = 32 * 1024 ** 2
#: DuckDB's own ceiling for a memory value (larger ones are "out of range").
MAX_MEMORY_BYTES = 2 ** 63 - 1
_UNITS = {"b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4,
          "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "tib": 1024 ** 4}
#: Paths inside ``.floe/`` that floe itself owns; a database file there would clobber them.
_FLOE_OWNED = {"catalog.db", "warehouse", "dagster", "dbt", "run.lock", "runs.jsonl",
               "compiled_artifacts.json", "lineage", "cache", "publish", "package"}


@field_check
def _threads(value: int | None) -> None:
    if value is not None and value < 1:
        raise Invalid(f"threads must be at least 1, got {value}; leave it out to let DuckDB use "
                      "every core")
    if value is not None and value > MAX_THREADS:
        raise Invalid(f"threads must be at most {MAX_THREADS}, got {value}; write the number of "
                      "cores DuckDB may use, e.g. 4, or leave it out to use every core")


@field_check
def _memory_limit(value: str | None) -> None:
    if value is None:
        return
    text = value.strip()
    if _PERCENT.fullmatch(text):
        return
    if not _MEMORY.fullmatch(text):
        raise Invalid(f"'{value}' is not a memory size: write an amount with a unit, e.g. 4GB, "
                      "512MB, 1.5GiB, or a share of RAM from 1% to 100%, e.g. 80%")
    number, unit = re.fullmatch(r"([\d.]+)\s?([A-Za-z]+)", text).groups()  # type: ignore[union-attr]
    size = float(number) * _UNITS[unit.lower()]
    if size < MIN_MEMORY_BYTES:
        raise Invalid(f"memory_limit {value} is too small for DuckDB to build tables (it fails "
                      "with 'Out of Memory' below 32MB); write e.g. 512MB or 4GB")
    if size > MAX_MEMORY_BYTES:
        raise Invalid(f"memory_limit {value} is larger than DuckDB can represent; write what the "
                      "machine has, e.g. 64GB, or a share of RAM such as 80%")


@field_check
def _database_path(value: str) -> None:
    if not value or "\x00" in value or value.startswith("/") or ".." in value.split("/"):
        raise Invalid(f"'{value}' must be a relative path inside the product directory "
                      "(no leading '/', no '..'), e.g. .floe/warehouse.duckdb")
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if not parts or value.endswith("/") or parts[-1] == "..":
        raise Invalid(f"'{value}' names a folder; compute.path is the DuckDB database file, "
                      "e.g. .floe/warehouse.duckdb")
    if parts == [".floe"] or (parts[0] == ".floe" and len(parts) == 2 and parts[1] in _FLOE_OWNED):
        raise Invalid(f"'{value}' is a path floe itself uses; give the DuckDB database a file of "
                      "its own, e.g. .floe/warehouse.duckdb")


@attrs.frozen
class DuckdbProperties:
    """The seed documents' ``properties: {threads: 4, memory_limit: 4GB}`` block."""

    threads: int | None = attrs.field(default=None, validator=_threads)
    memory_limit: str | None = attrs.field(default=None, validator=_memory_limit)


@attrs.frozen
class DuckdbCompute:
    """A DuckDB database file, its resource limits, settings and extensions."""

    path: str = attrs.field(default=".floe/floe.duckdb", validator=_database_path)
    threads: int | None = attrs.field(default=None, validator=_threads)
    memory_limit: str | None = attrs.field(default=None, validator=_memory_limit)
    # Values are checked in resolve, where each problem can be reported at its own key.
    settings: dict[str, Any] = attrs.Factory(dict)
    extensions: list[Extension] = attrs.Factory(list)
    properties: DuckdbProperties = DuckdbProperties()


@hookimpl
def floe_compute_settings() -> type:
    """DuckDB: ``path``, ``threads``, ``memory_limit``, ``settings``, ``extensions``, ``properties``."""
    return DuckdbCompute


@hookimpl
def floe_compute_resolve(settings: DuckdbCompute, context: ResolveContext) -> dict:
    """Resolve to the database path and the dbt-duckdb target (unset values left out)."""
    if context.credentials is not None:
        context.error(("credentials",), "duckdb compute takes no credentials: it runs inside floe's "
                      "own process; remove the block")
    limits = {key: _merged(settings, key, context) for key in _OWN_KEYS}
    duckdb_settings = _checked_settings(settings.settings, context)
    # threads bounds both dbt's concurrency and DuckDB's worker pool, which one process shares,
    # so the platform's limit holds however many models dbt runs at once.
    for key, value in limits.items():
        if value is not None:
            duckdb_settings[key] = value
    profile: dict[str, Any] = {"type": "duckdb", "path": settings.path}
    if limits["threads"] is not None:
        profile["threads"] = limits["threads"]
    if duckdb_settings:
        profile["settings"] = dict(sorted(duckdb_settings.items()))
    if settings.extensions:
        profile["extensions"] = sorted(set(settings.extensions))
    # The path stays relative so the artifacts are identical on every machine; run time
    # anchors it at the product directory.
    return {"database": settings.path, "dbt_profile": profile}


def _merged(settings: DuckdbCompute, key: str, context: ResolveContext) -> Any:
    top, nested = getattr(settings, key), getattr(settings.properties, key)
    if top is not None and nested is not None:
        here = dotted(tuple(context.path) + (key,))
        there = dotted(tuple(context.path) + ("properties", key))
        context.error(("properties", key), f"{key} is set twice, at {here} and at {there}; "
                      "keep one of them")
    return top if top is not None else nested


def _checked_settings(values: dict[str, Any], context: ResolveContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        where = ("settings", name)
        if name in _OWN_KEYS:
            context.error(where, f"set {name} with the profile's own '{name}:' key, not under "
                          "settings")
        elif not _SETTING_NAME.fullmatch(name):
            context.error(where, f"'{name}' is not a DuckDB setting name (letters, digits and '_'), "
                          "e.g. preserve_insertion_order")
        elif isinstance(value, dict) and "secret_ref" in value:
            # A secret (an S3 key, a proxy password) stays a reference; run time hands it to dbt
            # through an env_var() indirection, never through a file.
            try:
                out[name] = parse_secret_ref(value)
            except Invalid as exc:
                context.error(where, str(exc))
        elif _SENSITIVE.search(name):
            context.error(where, f"'{name}' holds a secret: a literal value is not allowed; "
                          "reference a secret instead: {secret_ref: <name>} (read at run time "
                          "from the secret backends)")
        elif not isinstance(value, (str, int, float, bool)):
            context.error(where, "a DuckDB setting takes a string, number or true/false, e.g. "
                          "preserve_insertion_order: false, or {secret_ref: <name>} for a secret")
        elif isinstance(value, float) and not math.isfinite(value):
            context.error(where, "a DuckDB setting must be a finite number")
        elif name.lower() not in _LOWER_NAMES:
            # DuckDB would refuse it only when the run opens the database, seconds in.
            context.error(where, f"'{name}' is not a DuckDB {setting_names.DUCKDB_VERSION} setting"
                          f"{did_you_mean(name, setting_names.NAMES)}; see SELECT name FROM "
                          "duckdb_settings() for the full list")
        else:
            out[name] = value
    return out


@hookimpl
def floe_compute_dbt_output(config: dict, context: Any) -> dict:
    """The dbt-duckdb target for a run (see :mod:`.runtime`)."""
    from floe_plugin_compute_duckdb import runtime

    return runtime.dbt_output(config, context)


@hookimpl
def floe_compute_reader(config: dict, context: Any) -> Any:
    """A reader of the tables dbt built (see :mod:`.runtime`)."""
    from floe_plugin_compute_duckdb import runtime

    return runtime.reader(config, context)
