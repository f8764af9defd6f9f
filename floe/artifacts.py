"""CompiledArtifacts: the one contract between compile time and run time.

Versioned (``contract_version``, semver), self-contained, deterministic (sorted keys, no
timestamps, paths relative to the product) and free of secret values (references only).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import attrs

from floe.diagnostics import FloeError, Report
from floe.schema.structure import structure
from floe.schema.types import jsonable

#: The contract's version. Bump the major version when run time can no longer read old files.
CONTRACT_VERSION = "1.2.0"
#: Where ``floe compile`` writes the artifacts, relative to the product directory.
DEFAULT_PATH = Path(".floe") / "compiled_artifacts.json"


@attrs.frozen
class PluginProvenance:
    """The distribution and version of the plugin that resolved a section."""

    distribution: str
    version: str


@attrs.frozen
class ResolvedSection:
    """One platform section as its plugin resolved it."""

    profile: str
    type: str
    plugin: PluginProvenance
    config: dict[str, Any]


@attrs.frozen
class ProductInfo:
    """The product's identity, copied from floe.yaml."""

    name: str
    version: str
    owner: str | None = None
    domain: str | None = None
    description: str | None = None


@attrs.frozen
class PlatformInfo:
    """Which platform the product was compiled against."""

    name: str | None
    version: str | None
    digest: str
    source: str
    scope: str | None = None
    #: The platform's ancestors (``metadata.parent``), nearest first, relative to the product.
    parents: list[str] = attrs.Factory(list)
    # -- platform releases (``oci://``) --
    #: The ``oci://`` reference the product names (``platform.ref`` or ``--platform``), as written.
    ref: str | None = None
    #: The OCI manifest digest of the platform release compiled against (``sha256:...``): the
    #: immutable identity of the release; ``floe diff`` shows when it moves.
    release_digest: str | None = None


@attrs.frozen
class Profiles:
    """The product's resolved storage, catalog and compute profiles."""

    storage: ResolvedSection
    catalog: ResolvedSection
    compute: ResolvedSection


@attrs.frozen
class DbtModelInfo:
    """One model of the project as dbt parsed it, with the layer enforcement placed it in.

    ``layer`` is the catalog namespace its table belongs in (``bronze``, ``silver``, ...), or
    None when the platform names no data architecture or the model fits no layer.
    """

    unique_id: str
    name: str
    path: str
    alias: str
    materialized: str
    layer: str | None = None


@attrs.frozen
class DbtTransform:
    """A dbt project to build: where it is, what to select, which profile and target."""

    name: str
    project_dir: str
    profile: str
    target: str
    select: str | None = None
    exclude: str | None = None
    vars: dict[str, Any] = attrs.Factory(dict)
    #: Every model of the project (not only the selected ones), sorted by unique_id.
    models: list[DbtModelInfo] = attrs.Factory(list)


@attrs.frozen
class Dbt:
    """The dbt profiles run time gives dbt (no hand-written profiles.yml needed)."""

    profiles: dict[str, Any]
    transforms: list[DbtTransform]


@attrs.frozen
class PythonAssetsInfo:
    """Where run time finds ``@floe_asset`` functions (relative to the product)."""

    path: str
    modules: list[str] = attrs.Factory(list)


@attrs.frozen
class ScheduleInfo:
    """A schedule from floe.yaml, with the transforms it runs."""

    name: str
    cron: str
    timezone: str
    transforms: list[str]
    enabled: bool = True


@attrs.frozen
class Observability:
    """Merged observability settings: the product's switches within the platform's endpoints."""

    traces: bool
    lineage: bool
    otlp_endpoint: str | None = None
    otlp_protocol: str | None = None
    lineage_endpoint: str | None = None
    lineage_namespace: str | None = None
    attributes: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class EnforcementResult:
    """One rule checked at compile time.

    ``status`` is ``pass``, ``warn`` (reported, compile went on) or ``fail`` (compile stopped).
    ``file`` is the file the result is about, relative to the product, when there is one.
    """

    rule: str
    status: str
    subject: str
    message: str
    file: str | None = None


@attrs.frozen
class LayerCoverage:
    """Test coverage of one layer, against its minimum when the platform sets one."""

    models: int
    tested: int
    percent: float
    minimum: int | None = None


@attrs.frozen
class QualityReport:
    """What the quality gates measured: the share of models with at least one data test."""

    models: int
    tested: int
    test_coverage: float
    minimum_test_coverage: int | None = None
    by_layer: dict[str, LayerCoverage] = attrs.Factory(dict)
    undocumented_models: int = 0
    undocumented_columns: int = 0


@attrs.frozen
class Classification:
    """A classification (``pii``, ...) from a column's dbt ``meta``."""

    model: str
    column: str
    classification: list[str]
    file: str


@attrs.frozen
class Governance:
    """The product's governance intent, the effective platform policy and what compile enforced.

    ``policy_sources`` names, for each rule a platform file wrote, the file it comes from
    (relative to the product); rules no file wrote have their defaults.
    """

    classification_source: str
    emit_lineage: bool
    policy: dict[str, Any]
    enforcement: list[EnforcementResult] = attrs.Factory(list)
    policy_sources: dict[str, str] = attrs.Factory(dict)
    quality: QualityReport | None = None
    classifications: list[Classification] = attrs.Factory(list)


@attrs.frozen
class SecretRefInfo:
    """A secret run time must resolve, by reference."""

    secret_ref: str
    key: str | None = None


@attrs.frozen
class CompiledArtifacts:
    """Everything run time needs besides the dbt project and the secrets."""

    contract_version: str
    floe_version: str
    source_hash: str
    product: ProductInfo
    platform: PlatformInfo
    profiles: Profiles
    secret_backends: list[ResolvedSection]
    orchestrator: ResolvedSection | None
    dbt: Dbt
    python_assets: PythonAssetsInfo
    schedules: list[ScheduleInfo]
    governance: Governance
    observability: Observability
    secret_refs: list[SecretRefInfo]

    def to_json(self) -> str:
        """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(jsonable(self), sort_keys=True, indent=2, ensure_ascii=False,
                          allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "compiled_artifacts.json") -> "CompiledArtifacts":
        """Read artifacts written by ``floe compile``; refuse an incompatible contract version."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FloeError(f"{source}: not valid JSON ({exc}); run `floe compile` again") from None
        if not isinstance(data, dict):
            raise FloeError(f"{source}: not compiled artifacts; run `floe compile` again")
        version = str(data.get("contract_version", ""))
        if version.split(".")[0] != CONTRACT_VERSION.split(".")[0]:
            raise FloeError(f"{source}: contract_version {version or '(missing)'} cannot be read by "
                            f"this floe (contract {CONTRACT_VERSION}); run `floe compile` again")
        report = Report(source)
        artifacts = structure(data, cls, report)
        report.raise_if_errors()
        assert artifacts is not None
        return artifacts

    @classmethod
    def read(cls, path: str | os.PathLike) -> "CompiledArtifacts":
        """Read artifacts from a file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FloeError(f"{path}: no compiled artifacts; run `floe compile` first") from None
        return cls.from_json(text, str(path))

    def write(self, path: str | os.PathLike) -> None:
        """Write atomically: readers see the old file or the new one, never half of one."""
        write_atomic(Path(path), self.to_json())


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


__all__ = ["CONTRACT_VERSION", "CompiledArtifacts", "write_atomic"]
