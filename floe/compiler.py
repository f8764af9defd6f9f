"""``floe compile``: floe.yaml + platform.yaml → CompiledArtifacts.

The compiler walks the product's profile references, resolves each through the plugin the
platform's profile selects, enforces the platform's rules and assembles the contract. It
reports every problem of both files at once and writes nothing unless everything is valid.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from floe import __version__
from floe.artifacts import (
    CONTRACT_VERSION,
    DEFAULT_PATH,
    CompiledArtifacts,
    Dbt,
    DbtTransform,
    EnforcementResult,
    Governance,
    Observability,
    PlatformInfo,
    PluginProvenance,
    ProductInfo,
    Profiles,
    PythonAssetsInfo,
    ResolvedSection,
    ScheduleInfo,
    SecretRefInfo,
)
from floe.diagnostics import Diagnostic, FloeError, Report, did_you_mean, one_of
from floe.discovery import PlatformLocation, locate_platform
from floe.plugins.manager import KINDS, PluginRegistry
from floe.profiles import Resolved, Resolver, secret_refs
from floe.schema.platform import PROFILE_SECTIONS, ParsedPlatform, parse_platform
from floe.schema.product import DataProduct, parse_product
from floe.yamlsafe import load_file

#: dbt target used when a transform names none.
DEFAULT_TARGET = "floe"


@attrs.frozen
class CompileResult:
    """What ``compile`` produced: the artifacts, where they were written, and any warnings."""

    artifacts: CompiledArtifacts
    path: Path | None
    platform: PlatformLocation
    warnings: list[Diagnostic]


def compile_product(product_file: str | os.PathLike, platform: str | None = None,
                    env: str | None = None, output: str | os.PathLike | None = None,
                    registry: PluginRegistry | None = None, write: bool = True) -> CompileResult:
    """Compile a product against its platform and (by default) write the artifacts.

    :param product_file: the floe.yaml.
    :param platform: an explicit platform file (``--platform``); otherwise discovered.
    :param env: the environment whose ``platform/<env>/platform.yaml`` to use.
    :param output: where to write; default ``.floe/compiled_artifacts.json`` beside floe.yaml.
    :raises FloeError: with every problem found in either file.
    """
    registry = registry or PluginRegistry()
    product_path = Path(product_file)
    product_dir = product_path.parent
    product_doc = load_file(product_path, _display(product_path))
    product, product_report = parse_product(product_doc)
    if product is None:
        raise FloeError(product_report.items)
    location = locate_platform(product_dir, platform, product.platform.ref if product.platform else None, env)
    platform_doc = load_file(location.path, location.display)
    parsed, platform_report = parse_platform(platform_doc)
    if parsed is None or platform_report.errors:
        raise FloeError(product_report.items + platform_report.items)
    compiler = _Compiler(product, product_report, parsed, platform_report, registry, product_dir)
    artifacts = compiler.assemble(location, product_doc.text, platform_doc.text)
    warnings = product_report.warnings + platform_report.warnings
    path = None
    if write:
        path = Path(output) if output else product_dir / DEFAULT_PATH
        artifacts.write(path)
    return CompileResult(artifacts, path, location, warnings)


class _Compiler:
    def __init__(self, product: DataProduct, product_report: Report, parsed: ParsedPlatform,
                 platform_report: Report, registry: PluginRegistry, product_dir: Path):
        self.product = product
        self.product_report = product_report
        self.parsed = parsed
        self.platform = parsed.platform
        self.platform_report = platform_report
        self.registry = registry
        self.product_dir = product_dir
        self.resolver = Resolver(parsed, registry, platform_report, product=product, compiling=True)
        self.enforcement: list[EnforcementResult] = []

    def assemble(self, location: PlatformLocation, product_text: str, platform_text: str) -> CompiledArtifacts:
        profiles = {kind: self._profile(kind) for kind in PROFILE_SECTIONS}
        backends = self.resolver.secret_backends()
        orchestrator = self.resolver.orchestrator()
        if orchestrator is None and not self.platform_report.errors:
            self.platform_report.warn(("orchestrator",), "no orchestrator plugin is installed; "
                                      "`floe run` needs one: pip install floe-plugin-orchestrator-dagster")
        selected = [r for r in [*profiles.values(), *backends, orchestrator] if r is not None]
        self._check_approved(selected)
        transforms = self._transforms()
        errors = self.product_report.errors + self.platform_report.errors
        if errors:
            raise FloeError(self.product_report.items + self.platform_report.items)
        compute = profiles["compute"]
        assert compute is not None and all(p is not None for p in profiles.values())
        dbt = self._dbt(compute, transforms)
        sections = {kind: _section(resolved) for kind, resolved in profiles.items()}
        secret_backends = [_section(b) for b in backends]
        refs = secret_refs([r.config for r in selected])
        product = self.product
        meta = product.metadata
        platform_digest = "sha256:" + hashlib.sha256(platform_text.encode()).hexdigest()
        return CompiledArtifacts(
            contract_version=CONTRACT_VERSION,
            floe_version=__version__,
            source_hash=source_hash(product_text, platform_text),
            product=ProductInfo(meta.name, meta.version, meta.owner, meta.domain, meta.description),
            platform=PlatformInfo(
                name=self.platform.metadata.name, version=self.platform.metadata.version,
                digest=platform_digest, source=_relative(location.path, self.product_dir),
                scope=self.platform.metadata.scope),
            profiles=Profiles(**sections),
            secret_backends=secret_backends,
            orchestrator=_section(orchestrator) if orchestrator else None,
            dbt=dbt,
            python_assets=PythonAssetsInfo(product.assets.path, list(product.assets.modules)),
            schedules=[ScheduleInfo(s.name, s.cron, s.timezone,
                                    list(s.transforms) if s.transforms is not None
                                    else [t.name for t in product.transforms], s.enabled)
                       for s in product.schedules],
            governance=Governance(
                classification_source=product.governance.classification_source,
                emit_lineage=product.governance.emit_lineage,
                policy=_plain({"data_architecture": self.platform.data_architecture,
                               "governance": self.platform.governance}),
                enforcement=self.enforcement),
            observability=self._observability(),
            secret_refs=[SecretRefInfo(r.secret_ref, r.key) for r in refs],
        )

    def _profile(self, kind: str) -> Resolved | None:
        name = getattr(self.product.profiles, kind)
        defined = self.platform.profiles(kind)
        section = PROFILE_SECTIONS[kind]
        if name not in defined:
            platform_name = self.platform.metadata.name or self.platform_report.file
            if defined:
                message = (f"platform '{platform_name}' defines no {kind} profile '{name}'"
                           f"{did_you_mean(name, defined)}; it defines: {one_of(defined)}")
            else:
                message = (f"platform '{platform_name}' defines no {kind} profiles at all "
                           f"(it defines: {one_of(self._defined_sections()) }); ask the platform "
                           f"team to add {section}.{name} to {self.platform_report.file}")
            self.product_report.error(("profiles", kind), message)
            return None
        return self.resolver.profile(kind, name)

    def _defined_sections(self) -> list[str]:
        out = [f"{section}.{name}" for kind, section in PROFILE_SECTIONS.items()
               for name in self.platform.profiles(kind)]
        return out or ["no storage, catalog or compute profiles"]

    def _check_approved(self, selected: list[Resolved]) -> None:
        approved = self.platform.governance.approved_plugins
        for kind in approved:
            if kind not in KINDS:
                self.platform_report.error(("governance", "approved_plugins", kind),
                                           f"unknown plugin kind '{kind}'{did_you_mean(kind, KINDS)}; "
                                           f"kinds: {one_of(KINDS)}")
        for resolved in selected:
            allowed = approved.get(resolved.kind)
            if allowed is None:
                continue
            subject = f"{resolved.kind} profile '{resolved.profile}' ({resolved.type})"
            if resolved.type in allowed:
                self.enforcement.append(EnforcementResult("approved_plugins", "pass", subject,
                                                          f"'{resolved.type}' is approved"))
                continue
            message = (f"{subject} uses a plugin type the platform has not approved; approved "
                       f"{resolved.kind} types: {one_of(allowed)}")
            self.enforcement.append(EnforcementResult("approved_plugins", "fail", subject, message))
            where = ("profiles", resolved.kind) if resolved.kind in PROFILE_SECTIONS else ()
            self.product_report.error(where, message)

    def _transforms(self) -> list[DbtTransform]:
        out = []
        for index, transform in enumerate(self.product.transforms):
            project = PurePosixPath(transform.path)
            if project.is_absolute() or ".." in project.parts:
                self.product_report.error(("transforms", index, "path"),
                                          f"'{transform.path}' must be a path inside the product directory")
                continue
            if not (self.product_dir / project / "dbt_project.yml").is_file():
                self.product_report.error(("transforms", index, "path"),
                                          f"no dbt project at '{transform.path}' (dbt_project.yml not "
                                          "found); point path at the folder holding dbt_project.yml")
            out.append(DbtTransform(
                name=transform.name, project_dir=str(project), profile=self.product.metadata.name,
                target=transform.target or DEFAULT_TARGET, select=transform.select,
                exclude=transform.exclude, vars=dict(transform.vars)))
        return out

    def _dbt(self, compute: Resolved, transforms: list[DbtTransform]) -> Dbt:
        output = compute.config.get("dbt_profile")
        if not isinstance(output, dict):
            raise FloeError(f"compute plugin '{compute.type}' ({compute.plugin['distribution']}) did "
                            "not resolve to a dbt_profile; upgrade the plugin")
        targets = sorted({t.target for t in transforms}) or [DEFAULT_TARGET]
        default = transforms[0].target if transforms else DEFAULT_TARGET
        profiles = {self.product.metadata.name: {"target": default,
                                                 "outputs": {t: dict(output) for t in targets}}}
        return Dbt(profiles=profiles, transforms=transforms)

    def _observability(self) -> Observability:
        mine, theirs = self.product.observability, self.platform.observability
        return Observability(
            traces=mine.traces and theirs.traces,
            lineage=mine.lineage and theirs.lineage and self.product.governance.emit_lineage,
            otlp_endpoint=theirs.otlp_endpoint, otlp_protocol=theirs.otlp_protocol,
            lineage_endpoint=theirs.lineage_endpoint, lineage_namespace=theirs.lineage_namespace,
            attributes=dict(mine.attributes))


def source_hash(product_text: str, platform_text: str) -> str:
    """A digest of everything the artifacts were compiled from."""
    inputs = {"contract_version": CONTRACT_VERSION,
              "floe.yaml": hashlib.sha256(product_text.encode()).hexdigest(),
              "platform.yaml": hashlib.sha256(platform_text.encode()).hexdigest()}
    return "sha256:" + hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _section(resolved: Resolved) -> ResolvedSection:
    return ResolvedSection(resolved.profile, resolved.type, PluginProvenance(**resolved.plugin),
                           resolved.config)


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        return {k: _plain(v) for k, v in attrs.asdict(value, recurse=False).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _relative(path: Path, base: Path) -> str:
    try:
        return PurePosixPath(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _display(path: Path) -> str:
    return str(path) if not path.is_absolute() else os.path.relpath(path)
