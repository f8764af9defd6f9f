"""CompiledArtifacts: the one contract between compile time and run time.

Versioned (``contract_version``, semver), self-contained, deterministic (sorted keys, no
timestamps, paths relative to the product) and free of secret values (references only).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

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
class ResolvedProfiles:
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
    #: platform.yaml's openlineage-python transport config (secret refs, never values).
    lineage_transport: dict[str, Any] | None = None


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
class CompiledGovernance:
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


# -- the publish plan: what run time builds and which Iceberg tables it writes ---------------


@attrs.frozen
class PlannedTable:
    """An Iceberg table run time writes: ``namespace.name``, and how.

    ``mode`` is ``replace`` (after the run the table holds exactly the node's rows), ``append``
    (the rows the node added this run are appended) or ``merge`` (rows are upserted on
    ``unique_key``). A full refresh (``floe run --full-refresh``) replaces every table.
    """

    namespace: str
    name: str
    mode: Literal["replace", "append", "merge"]
    unique_key: list[str] = attrs.Factory(list)

    @property
    def identifier(self) -> str:
        """``namespace.name``, as catalogs and readers name the table."""
        return f"{self.namespace}.{self.name}"


@attrs.frozen
class PlannedNode:
    """One node of the product as run time builds it.

    ``kind`` is ``source``, ``seed``, ``snapshot`` or ``model`` (a dbt node of ``transform``,
    ``id`` its dbt unique_id) or ``python`` (an ``@floe_asset``, ``id`` ``python.<name>``).
    ``layer`` is the catalog namespace the node belongs in (None for sources); ``depends_on``
    lists the ids of the nodes it reads; ``table`` is the Iceberg table it publishes, if any.
    """

    id: str
    kind: Literal["source", "seed", "snapshot", "model", "python"]
    name: str
    transform: str | None = None
    materialized: str | None = None
    layer: str | None = None
    depends_on: list[str] = attrs.Factory(list)
    table: PlannedTable | None = None
    description: str | None = None

    @property
    def dataset(self) -> str:
        """The node's dataset name in lineage: its table's identifier, else ``layer.name`` (a
        source: ``source.table``)."""
        if self.table is not None:
            return self.table.identifier
        return f"{self.layer}.{self.name}" if self.layer else self.name


@attrs.frozen
class PublishPlan:
    """Every node of the product's dbt projects and Python assets, as compile decided them.

    Run time (the orchestrator plugin, observability, ``floe lineage``) reads this and nothing
    else to know which tables a run writes and where. A run builds its selection of the nodes
    and publishes the ``table`` of each one it built.
    """

    nodes: list[PlannedNode] = attrs.Factory(list)

    def tables(self) -> list[PlannedNode]:
        """The nodes that publish a table."""
        return [node for node in self.nodes if node.table is not None]

    def of_transform(self, transform: str) -> dict[str, PlannedNode]:
        """A dbt transform's nodes by unique_id."""
        return {node.id: node for node in self.nodes if node.transform == transform}

    def python_assets(self) -> list[PlannedNode]:
        """The Python assets, by name."""
        return [node for node in self.nodes if node.kind == "python"]


@attrs.frozen
class CompiledArtifacts:
    """Everything run time needs besides the dbt project and the secrets."""

    contract_version: str
    floe_version: str
    source_hash: str
    product: ProductInfo
    platform: PlatformInfo
    profiles: ResolvedProfiles
    secret_backends: list[ResolvedSection]
    orchestrator: ResolvedSection | None
    dbt: Dbt
    python_assets: PythonAssetsInfo
    schedules: list[ScheduleInfo]
    governance: CompiledGovernance
    observability: Observability
    secret_refs: list[SecretRefInfo]
    #: Which nodes run time builds and the Iceberg tables they publish (contract 1.2).
    publish: PublishPlan

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
        except RecursionError:
            raise FloeError(f"{source}: JSON nested too deeply to be compiled artifacts; run "
                            "`floe compile` again") from None
        if not isinstance(data, dict):
            raise FloeError(f"{source}: not compiled artifacts; run `floe compile` again")
        version = str(data.get("contract_version", ""))
        if version.split(".")[0] != CONTRACT_VERSION.split(".")[0]:
            raise FloeError(f"{source}: contract_version {version or '(missing)'} cannot be read by "
                            f"this floe (contract {CONTRACT_VERSION}); run `floe compile` again")
        if "publish" not in data:
            raise FloeError(f"{source}: compiled by an older floe (contract {version}), without the "
                            "publish plan run time reads; run `floe compile` again")
        report = Report(source)
        artifacts = structure(data, cls, report)
        report.raise_if_errors()
        assert artifacts is not None
        return artifacts

    @classmethod
    def read(cls, path: str | os.PathLike) -> "CompiledArtifacts":
        """Read artifacts from a file."""
        from floe.filekinds import file_problem, read_regular

        try:
            text = read_regular(path, MAX_ARTIFACTS_BYTES).decode("utf-8")
        except FileNotFoundError:
            raise FloeError(f"{path}: no compiled artifacts; run `floe compile` first") from None
        except UnicodeDecodeError as exc:
            raise FloeError(f"{path}: not compiled artifacts (not UTF-8 text, byte {exc.start}); "
                            "run `floe compile` again") from None
        except OSError as exc:
            raise FloeError(f"{path}: {file_problem(path) or exc}") from None
        return cls.from_json(text, str(path))

    def write(self, path: str | os.PathLike) -> None:
        """Write atomically: readers see the old file or the new one, never half of one."""
        write_atomic(Path(path), self.to_json())


#: Far above any real artifacts file (a 500-model product is a few MB); a bound keeps a
#: mistaken path (a device, a huge log) from being read whole into memory.
MAX_ARTIFACTS_BYTES = 256 * 1024 * 1024


def write_atomic(path: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file in the same
    directory and a rename, so that readers see the old file or the new one, never a part.

    :param durable: fsync before the rename. A file that is checked on every read and can be
        fetched again (a content-addressed cache) may skip it: it is the slow part.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:32]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
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
