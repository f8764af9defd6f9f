"""platform.yaml (Tier 2, ``kind: Platform`` or ``kind: Manifest``): the platform team's file.

The top level is validated here; each profile (``storage.<name>``, ``catalogs.<name>``,
``compute.<name>``, ``orchestrator``, ``secrets.backends[i]``) is validated by the plugin its
``type`` selects, in :mod:`floe.profiles`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs

from floe.diagnostics import DocPath, Report, one_of
from floe.schema.observability import check_lineage_transport
from floe.schema.structure import Invalid, field_check, structure
from floe.schema.urls import check_http_url
from floe.yamlsafe import Document

#: The sections that hold named profiles, by plugin kind.
PROFILE_SECTIONS = {"storage": "storage", "catalog": "catalogs", "compute": "compute"}
#: ``plugins:`` shorthand kinds floe understands, and where each lands.
SHORTHAND = {"storage": ("storage", "default"), "catalog": ("catalogs", "default"),
             "compute": ("compute", "default"), "orchestrator": ("orchestrator",)}
#: Fields whose values are secrets wherever they appear in reference-only blocks.
SENSITIVE_KEYS = {"client_secret", "password", "secret_access_key", "session_token", "token",
                  "api_key", "private_key", "secret"}


@field_check
def _percent(value: int | None) -> None:
    if value is not None and not 0 <= value <= 100:
        raise Invalid(f"{value} is not a percentage; use a whole number from 0 to 100")


@attrs.frozen
class PlatformMetadata:
    """Name and version of the platform; ``scope`` and ``parent`` place it in a data mesh."""

    name: str | None = None
    version: str | None = None
    scope: Literal["enterprise", "domain", "product"] | None = None
    parent: str | None = None
    #: ``{public_key: FILE | {secret_ref: name}}``: the ``oci://`` parent must be signed by it.
    parent_verify: dict[str, Any] | None = None
    owner: str | None = None
    description: str | None = None


@attrs.frozen
class SecretsSection:
    """Secret backends in resolution order: names (``env``) or mappings with a ``type``."""

    backends: list[Any] | None = None


_NO_USERINFO = ("keep credentials out of URLs (they would be stored in the compiled artifacts and "
                "shown in messages): hold them in a secret backend and reference them as "
                "{secret_ref: <name>}")


@field_check
def _otlp_url(value: str | None) -> None:
    if value is not None:
        check_http_url(value, "the collector's OTLP/HTTP address, e.g. http://otel-collector:4318",
                       userinfo_hint=_NO_USERINFO)


@field_check
def _lineage_url(value: str | None) -> None:
    if value is not None:
        check_http_url(value, "the lineage server's address, e.g. http://marquez:5000",
                       userinfo_hint=_NO_USERINFO)


@attrs.frozen
class PlatformObservability:
    """Where traces and lineage go."""

    traces: bool = True
    lineage: bool = True
    otlp_endpoint: str | None = attrs.field(default=None, validator=_otlp_url)
    otlp_protocol: Literal["grpc", "http/protobuf"] | None = None
    lineage_endpoint: str | None = attrs.field(default=None, validator=_lineage_url)
    lineage_namespace: str | None = None
    #: An openlineage-python transport config (http, file, console, composite, kafka ...);
    #: when set it replaces ``lineage_endpoint``.
    lineage_transport: dict[str, Any] | None = attrs.field(
        default=None, validator=field_check(check_lineage_transport))


#: Layer names become catalog namespaces at run time, so they are plain identifiers.
_LAYER_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def _check_layer(name: Any) -> None:
    if not (isinstance(name, str) and _LAYER_NAME.fullmatch(name)):
        raise Invalid(f"'{name}' is not a layer name: use lowercase letters, digits and '_', starting "
                      "with a letter (layers become catalog namespaces), e.g. bronze")


@field_check
def _layer_list(value: list[str] | None) -> None:
    for name in value or []:
        _check_layer(name)
    if value is not None and len(set(value)) != len(value):
        raise Invalid("a layer is listed twice; list each layer once")


@field_check
def _layer_patterns(value: dict[str, str]) -> None:
    for layer, pattern in value.items():
        _check_layer(layer)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise Invalid(f"the pattern for layer '{layer}' is not a valid regular expression "
                          f"({exc}); write a Python regex the whole model name must match, e.g. "
                          "'raw_[a-z0-9_]+'") from None


@field_check
def _folder_layers(value: dict[str, str]) -> None:
    for folder, layer in value.items():
        if not folder or "/" in folder or folder in (".", ".."):
            raise Invalid(f"'{folder}' is not a folder name; map one folder under the model path to "
                          "a layer, e.g. staging: bronze")
        _check_layer(layer)


@field_check
def _percent_by_layer(value: dict[str, int]) -> None:
    for layer, percent in value.items():
        _check_layer(layer)
        if not 0 <= percent <= 100:
            raise Invalid(f"{percent} (layer {layer}) is not a percentage; use a whole number from "
                          "0 to 100")


@attrs.frozen
class Naming:
    """Naming enforcement: ``off``, ``warn`` or ``strict``.

    ``patterns`` holds one regex per layer for ``pattern: custom`` (the whole model name must
    match); ``folders`` maps folders under the model path to layers (``staging: bronze``), so a
    model in such a folder belongs to that layer without the layer's prefix.
    """

    enforcement: Literal["off", "warn", "strict"] = "off"
    patterns: dict[str, str] = attrs.field(factory=dict, validator=_layer_patterns)
    folders: dict[str, str] = attrs.field(factory=dict, validator=_folder_layers)


@attrs.frozen
class DataArchitecture:
    """The data architecture pattern whose rules compile enforces.

    ``layers`` narrows the pattern's layers to those products may use (medallion: bronze,
    silver, gold; kimball: staging, intermediate, marts; custom: the keys of
    ``naming.patterns``).
    """

    pattern: Literal["medallion", "kimball", "custom"] | None = None
    naming: Naming = Naming()
    layers: list[str] | None = attrs.field(default=None, validator=_layer_list)


@attrs.frozen
class QualityGates:
    """Minimum quality every product must meet at compile time.

    ``minimum_test_coverage`` is the share of models (in percent) with at least one data test;
    ``minimum_test_coverage_by_layer`` sets it per layer. With ``block_on_failure: false`` a
    missed gate is a warning and compile succeeds.
    """

    minimum_test_coverage: int | None = attrs.field(default=None, validator=_percent)
    minimum_test_coverage_by_layer: dict[str, int] = attrs.field(factory=dict,
                                                                 validator=_percent_by_layer)
    require_descriptions: bool = False
    require_column_descriptions: bool = False
    block_on_failure: bool = True


@attrs.frozen
class PlatformGovernance:
    """Quality gates, the plugin types products may use (by kind), and the classification
    values column ``meta`` may carry (any value when unset)."""

    quality_gates: QualityGates = QualityGates()
    approved_plugins: dict[str, list[str]] = attrs.Factory(dict)
    classifications: list[str] | None = None


@attrs.frozen
class Platform:
    """The whole platform.yaml in canonical form (profiles still raw, for their plugins)."""

    apiVersion: Literal["floe.dev/v1"]
    kind: Literal["Platform", "Manifest"]
    metadata: PlatformMetadata = PlatformMetadata()
    storage: dict[str, Any] = attrs.Factory(dict)
    catalogs: dict[str, Any] = attrs.Factory(dict)
    compute: dict[str, Any] = attrs.Factory(dict)
    orchestrator: Any = None
    secrets: SecretsSection = SecretsSection()
    observability: PlatformObservability = PlatformObservability()
    data_architecture: DataArchitecture = DataArchitecture()
    governance: PlatformGovernance = PlatformGovernance()
    #: Reference-only documentation of pre-existing cloud resources; not interpreted.
    infrastructure: dict[str, Any] = attrs.Factory(dict)
    #: Reference-only documentation of the security set-up; not interpreted.
    security: dict[str, Any] = attrs.Factory(dict)

    def profiles(self, kind: str) -> dict[str, Any]:
        """The named profiles of ``storage``, ``catalog`` or ``compute``."""
        return getattr(self, PROFILE_SECTIONS[kind])


@attrs.frozen
class ParsedPlatform:
    """A validated platform plus what parsing learned about its document."""

    platform: Platform
    document: Document
    #: Profiles written in the ``plugins:`` shorthand with nothing but a ``type``.
    selection_only: frozenset[DocPath]


def parse_platform(doc: Document) -> tuple[ParsedPlatform | None, Report]:
    """Validate a platform document's top level; profiles are checked by their plugins later.

    With errors in the report, the returned platform holds only the profile sections (for
    their plugins to check); use nothing else of it.
    """
    report = doc.report()
    if not isinstance(doc.data, dict):
        report.error((), "a platform.yaml must be a mapping (apiVersion, kind, metadata, storage, "
                     "catalogs, compute, ...)")
        return None, report
    data, selection_only = normalise(doc.data, report)
    _refuse_literal_secrets(data.get("infrastructure"), ("infrastructure",), report)
    _refuse_literal_secrets(data.get("security"), ("security",), report)
    platform = structure(data, Platform, report)
    if platform is None:
        # Profiles are validated by their plugins even when the top level has errors, so a
        # platform engineer sees every mistake in one run. Callers check report.errors.
        platform = Platform(apiVersion="floe.dev/v1", kind="Platform", **{
            section: data[section] for section in (*PROFILE_SECTIONS.values(), "orchestrator")
            if isinstance(data.get(section), dict)})
    return ParsedPlatform(platform, doc, frozenset(selection_only)), report


def normalise(data: dict, report: Report) -> tuple[dict, set[DocPath]]:
    """Rewrite the flat ``version:`` and the ADR-0016 ``plugins:`` shorthand into canonical form."""
    data = dict(data)
    pos = report.positions
    data.setdefault("apiVersion", "floe.dev/v1")
    data.setdefault("kind", "Platform")
    # A malformed `metadata:` is left for structuring to report.
    if "version" in data and isinstance(data.get("metadata"), (dict, type(None))):
        meta = dict(data.get("metadata") or {})
        meta.setdefault("version", data.pop("version"))
        pos.setdefault(("metadata", "version"), pos.get(("version",), (0, 0)))
        data["metadata"] = meta
    selection_only: set[DocPath] = set()
    shorthand = data.pop("plugins", None)
    if shorthand is None:
        return data, selection_only
    if not isinstance(shorthand, dict):
        report.error(("plugins",), "plugins must be a mapping of kind to {type: ...}")
        return data, selection_only
    for kind, entry in shorthand.items():
        path: DocPath = ("plugins", kind)
        if kind not in SHORTHAND:
            report.warn(path, f"plugin kind '{kind}' is not supported by this floe "
                        f"(supported here: {one_of(SHORTHAND)}); it is ignored")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            report.error(path, f"expected {{type: <name>}} naming the {kind} plugin")
            continue
        target = SHORTHAND[kind]
        section = data.get(target[0])
        if len(target) == 1:
            if section is not None:
                report.error(path, f"{kind} is set both here and in '{target[0]}'; keep one")
                continue
            data[target[0]] = entry
        else:
            section = dict(section) if isinstance(section, dict) else {}
            if target[1] in section:
                report.error(path, f"{kind} is set both here and in '{'.'.join(target)}'; keep one")
                continue
            section[target[1]] = entry
            data[target[0]] = section
        for p in [p for p in pos if p[:2] == path]:
            pos.setdefault(target + p[2:], pos[p])
        if set(entry) == {"type"}:
            selection_only.add(target)
    return data, selection_only


def _refuse_literal_secrets(value: Any, path: DocPath, report: Report) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SENSITIVE_KEYS and not (isinstance(item, dict) and "secret_ref" in item):
                if item not in (None, ""):
                    report.error(path + (key,), "a literal value is not allowed in a sensitive field; "
                                 "reference a secret instead: {secret_ref: <name>}")
            else:
                _refuse_literal_secrets(item, path + (key,), report)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_literal_secrets(item, path + (i,), report)
