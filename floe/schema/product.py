"""floe.yaml (Tier 1, ``kind: DataProduct``): the data product a data engineer owns.

A product names infrastructure only by profile; endpoints, credentials and secret values belong
in platform.yaml and are refused here with a pointer to where they go. The flat forms used by
the seed documents are normalised to the canonical form before strict structuring.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any, Literal

import attrs

from floe.diagnostics import DocPath, Report, did_you_mean, dotted, one_of
from floe.schema.names import transform_name_problem
from floe.schema.structure import Invalid, field_check, structure
from floe.yamlsafe import Document

API_VERSION = "floe.dev/v1"
_NAME = re.compile(r"[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?")

#: Keys that mean "infrastructure or secrets" wherever they appear in a floe.yaml.
INFRASTRUCTURE_KEYS = {
    "uri": "endpoints", "url": "endpoints", "endpoint": "endpoints", "host": "endpoints",
    "warehouse": "catalog settings", "bucket": "storage settings", "region": "storage settings",
    "polaris": "catalog settings", "catalogs": "catalog settings", "credentials": "credentials",
    "password": "secrets", "token": "secrets", "client_secret": "secrets", "client_id": "credentials",
    "secret": "secrets", "secret_access_key": "secrets", "access_key_id": "credentials",
    "client_secret_ref": "secret references", "secret_ref": "secret references",
}
_PROFILE_KINDS = ("storage", "catalog", "compute")


@field_check
def _check_name(value: str) -> None:
    if not _NAME.fullmatch(value):
        raise Invalid(f"'{value}' is not a valid name: use lowercase letters, digits, '-' and '_' "
                      "(at most 63 characters), starting and ending with a letter or digit")


@field_check
def _check_transform_name(value: str) -> None:
    problem = transform_name_problem(value)
    if problem:
        raise Invalid(problem)


_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@field_check
def _check_modules(value: list[str]) -> None:
    for module in value:
        if not _MODULE.fullmatch(module):
            raise Invalid(f"'{module}' is not a Python module name; write a dotted import path "
                          "such as my_assets or my_assets.orders")


@field_check
def _check_assets_path(value: str) -> None:
    # The folder is imported from at run time: outside the product it would run foreign code.
    path = PurePosixPath(value)
    if not value or "\x00" in value or path.is_absolute() or ".." in path.parts:
        raise Invalid(f"'{value}' must be a folder inside the product directory (relative, no "
                      "leading '/', no '..'), e.g. assets")


@attrs.frozen
class ProductMetadata:
    """Who the product is: name (used for jobs, namespaces and lineage), version, ownership."""

    name: str = attrs.field(validator=_check_name)
    version: str
    owner: str | None = None
    domain: str | None = None
    description: str | None = None


@field_check
def _version_range(value: str | None) -> None:
    if value is None:
        return
    from floe.releases.compatibility import check_range

    try:
        check_range(value)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


@attrs.frozen
class VerifyPin:
    """Require a valid signature on the platform release: the PEM file of the public key
    (relative to floe.yaml)."""

    public_key: str


@attrs.frozen
class PlatformPin:
    """Which platform this product compiles against: a path or an ``oci://`` reference, and
    the range of platform versions it accepts (``">=1.2.0, <2.0.0"``)."""

    ref: str | None = None
    version: str | None = attrs.field(default=None, validator=_version_range)
    verify: VerifyPin | None = None


@attrs.frozen
class ProfileNames:
    """Logical names of the platform profiles this product uses; each defaults to ``default``."""

    storage: str = "default"
    catalog: str = "default"
    compute: str = "default"


@attrs.frozen
class Transform:
    """One dbt project (or a selection of it) to build."""

    name: str = attrs.field(validator=_check_transform_name)
    type: Literal["dbt"] = "dbt"
    path: str = "."
    select: str | None = None
    exclude: str | None = None
    target: str | None = None
    vars: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen
class Schedule:
    """A cron schedule that runs some (by default all) transforms."""

    name: str
    cron: str
    timezone: str = "UTC"
    transforms: list[str] | None = None
    enabled: bool = True


@attrs.frozen
class ProductGovernance:
    """The product's governance intent; the platform's rules are enforced on top."""

    classification_source: Literal["dbt_meta", "none"] = "dbt_meta"
    emit_lineage: bool = True


@attrs.frozen
class ProductObservability:
    """Switches for traces and lineage, and resource attributes such as ``service.name``."""

    traces: bool = True
    lineage: bool = True
    attributes: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class PythonAssets:
    """Where ``@floe_asset`` functions live: every ``*.py`` under ``path``, plus ``modules``."""

    path: str = attrs.field(default="assets", validator=_check_assets_path)
    modules: list[str] = attrs.field(factory=list, validator=_check_modules)


@attrs.frozen
class DataProduct:
    """The whole floe.yaml in canonical form."""

    apiVersion: Literal["floe.dev/v1"]
    kind: Literal["DataProduct"]
    metadata: ProductMetadata
    transforms: list[Transform]
    platform: PlatformPin | None = None
    profiles: ProfileNames = ProfileNames()
    schedules: list[Schedule] = attrs.Factory(list)
    governance: ProductGovernance = ProductGovernance()
    observability: ProductObservability = ProductObservability()
    assets: PythonAssets = PythonAssets()


def parse_product(doc: Document) -> tuple[DataProduct | None, Report]:
    """Validate a floe.yaml document; return the product (None on errors) and the report."""
    report = doc.report()
    data = doc.data
    if not isinstance(data, dict):
        report.error((), "a floe.yaml must be a mapping (apiVersion, kind, metadata, transforms, ...)")
        return None, report
    data = _refuse_infrastructure(data, report)
    data = normalise(data, report)
    product = structure(data, DataProduct, report)
    if product is not None:
        _check_semantics(product, report)
    _scan_for_secrets(doc, report)
    return (product if not report.errors else None), report


def _refuse_infrastructure(data: dict, report: Report) -> dict:
    """Report every infrastructure key with where it belongs, and drop it from the data."""

    def walk(value: Any, path: DocPath) -> Any:
        if isinstance(value, dict):
            kept = {}
            for key, item in value.items():
                # observability.attributes are free-form labels; their keys are not settings.
                if key in INFRASTRUCTURE_KEYS and path[-1:] != ("attributes",):
                    what = INFRASTRUCTURE_KEYS[key]
                    report.error(path + (key,), f"{what} do not belong in floe.yaml: move '{key}' to "
                                 "platform.yaml (the platform team's file) and refer to it here by "
                                 "profile name, e.g. `catalog: default`")
                    continue
                kept[key] = walk(item, path + (key,))
            return kept
        if isinstance(value, list):
            return [walk(item, path + (i,)) for i, item in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            report.error(path, "floe.yaml does not substitute variables (${...}); environment "
                         "differences belong in platform/<env>/platform.yaml, secrets in "
                         "{secret_ref: ...} there")
        return value

    data = dict(data)
    for kind in _PROFILE_KINDS:
        if isinstance(data.get(kind), (dict, list)):
            report.error((kind,), f"{kind} settings do not belong in floe.yaml: define them in "
                         f"platform.yaml under {'catalogs' if kind == 'catalog' else kind}.<profile> "
                         f"and write `{kind}: default` (a profile name) here")
            del data[kind]
    out = walk(data, ())
    return out


def normalise(data: dict, report: Report) -> dict:
    """Rewrite the flat seed forms into the canonical form, moving positions along."""
    data = dict(data)
    pos = report.positions

    def move(old: DocPath, new: DocPath) -> None:
        for path in [p for p in pos if p[: len(old)] == old]:
            pos.setdefault(new + path[len(old):], pos[path])

    # `name:`/`version:` at the top (ADR-0002, architecture document) → metadata.
    flat_meta = [k for k in ("name", "version", "owner", "domain", "description") if k in data]
    if flat_meta:
        meta = dict(data.get("metadata") or {}) if isinstance(data.get("metadata"), dict) else {}
        for key in flat_meta:
            meta.setdefault(key, data.pop(key))
            move((key,), ("metadata", key))
        data["metadata"] = meta
    data.setdefault("apiVersion", API_VERSION)
    data.setdefault("kind", "DataProduct")
    # `storage: default` at the top → profiles.
    flat_profiles = [k for k in _PROFILE_KINDS if k in data]
    if flat_profiles:
        profiles = dict(data.get("profiles") or {}) if isinstance(data.get("profiles"), dict) else {}
        for key in flat_profiles:
            profiles.setdefault(key, data.pop(key))
            move((key,), ("profiles", key))
        data["profiles"] = profiles
    # `schedule:` singular (ADR-0016) → a one-element `schedules:` list.
    if "schedule" in data:
        single = data.pop("schedule")
        move(("schedule",), ("schedules", 0))
        if isinstance(single, dict):
            single = {"name": "default", **single}
        data["schedules"] = [single, *(data.get("schedules") or [])] if isinstance(data.get("schedules"), list) else [single]
    if isinstance(data.get("transforms"), list):
        data["transforms"] = [_normalise_transform(t, i) for i, t in enumerate(data["transforms"])]
    return data


def _normalise_transform(item: Any, index: int) -> Any:
    if not isinstance(item, dict):
        return item
    item = dict(item)
    # `project:` + `models: [{path: glob}]` (architecture document) → path + a dbt selector.
    if "project" in item and "path" not in item:
        item["path"] = item.pop("project")
    if "models" in item and "select" not in item and isinstance(item["models"], list):
        globs = [m.get("path") if isinstance(m, dict) else m for m in item.pop("models")]
        if all(isinstance(g, str) for g in globs):
            item["select"] = " ".join(f"path:{g}" for g in globs)
    item.setdefault("name", _default_transform_name(item, index))
    return item


def _default_transform_name(item: dict, index: int) -> str:
    path = item.get("path")
    stem = re.sub(r"[^a-z0-9_]+", "_", str(path).lower()).strip("_") if isinstance(path, str) else ""
    return stem or f"transform_{index}"


def _check_semantics(product: DataProduct, report: Report) -> None:
    seen: dict[str, int] = {}
    for i, transform in enumerate(product.transforms):
        if transform.name in seen:
            report.error(("transforms", i, "name"), f"transform name '{transform.name}' is used twice "
                         f"(also transforms[{seen[transform.name]}]); give each a unique name")
        seen.setdefault(transform.name, i)
    if not product.transforms:
        report.error(("transforms",), "a product needs at least one transform, e.g. "
                     "`- {name: core, type: dbt, path: ./dbt}`")
    names = set(seen)
    schedule_names: set[str] = set()
    for i, schedule in enumerate(product.schedules):
        path: DocPath = ("schedules", i)
        if schedule.name in schedule_names:
            report.error(path + ("name",), f"schedule name '{schedule.name}' is used twice")
        schedule_names.add(schedule.name)
        problem = cron_problem(schedule.cron)
        if problem:
            report.error(path + ("cron",), problem)
        if not _known_timezone(schedule.timezone):
            report.error(path + ("timezone",), f"unknown time zone '{schedule.timezone}'; use an IANA "
                         "name such as UTC or Europe/Berlin")
        for j, ref in enumerate(schedule.transforms or []):
            if ref not in names:
                report.error(path + ("transforms", j), f"no transform named '{ref}'"
                             f"{did_you_mean(ref, names)}; transforms are: {one_of(names)}")


_CRON_FIELDS = [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
                ("day of week", 0, 7)]
_CRON_MACROS = {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}
_CRON_NAMES = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
               "sun", "mon", "tue", "wed", "thu", "fri", "sat"}


def cron_problem(expr: str) -> str | None:
    """Return what is wrong with a 5-field cron expression, or None when it is valid."""
    if expr.strip() in _CRON_MACROS:
        return None
    fields = expr.split()
    if len(fields) != 5:
        return (f"cron '{expr}' has {len(fields)} fields; expected 5 (minute hour day-of-month "
                "month day-of-week), e.g. \"0 6 * * *\"")
    for text, (label, low, high) in zip(fields, _CRON_FIELDS):
        for part in text.split(","):
            body, _, step = part.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return f"cron '{expr}': bad step '{step}' in the {label} field"
            if body == "*":
                continue
            for bound in body.split("-", 1):
                if bound.lower() in _CRON_NAMES:
                    continue
                if not bound.isdigit() or not low <= int(bound) <= high:
                    return f"cron '{expr}': '{bound}' is not valid in the {label} field ({low}-{high})"
    return None


def _known_timezone(name: str) -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _scan_for_secrets(doc: Document, report: Report) -> None:
    from floe.secretscan import scan_document

    refused = [d.path for d in report.errors]
    for path, kind in scan_document(doc):
        if any(_dotted_prefix(p, path) for p in refused):
            continue  # already reported: the whole block was refused
        report.error(path, f"looks like a secret ({kind}); floe.yaml must not contain secret values: "
                     "store it in a secret backend and reference it from platform.yaml with "
                     "{secret_ref: <name>}")


def _dotted_prefix(refused: str, path: DocPath) -> bool:
    text = dotted(path)
    return text == refused or text.startswith(refused + ".") or text.startswith(refused + "[")
