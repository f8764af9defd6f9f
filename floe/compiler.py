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
from typing import Callable

import attrs

from floe import __version__
from floe.artifacts import (
    CONTRACT_VERSION,
    DEFAULT_PATH,
    CompiledArtifacts,
    Dbt,
    DbtTransform,
    EnforcementResult,
    CompiledGovernance,
    Observability,
    PlatformInfo,
    PluginProvenance,
    ProductInfo,
    ResolvedProfiles,
    PublishPlan,
    PythonAssetsInfo,
    ResolvedSection,
    ScheduleInfo,
    SecretRefInfo,
)
from floe.diagnostics import ERROR, WARNING, Diagnostic, FloeError, Report, did_you_mean, one_of
from floe.dbt_project import DbtProjectModels, load_project
from floe.discovery import PlatformLocation, display_path, locate_platform
from floe.enforcement.rules import Outcome, ProjectModels, check_approved, enforce
from floe.enforcement.inheritance import PlatformFile, Policy, load_chain, merge
from floe.enforcement.inheritance import plain as plain_policy
from floe.plugins.manager import PluginRegistry
from floe.profiles import Resolved, Resolver, secret_refs
from floe.schema.names import model_name_problem
from floe.schema.platform import PROFILE_SECTIONS, ParsedPlatform, parse_platform
from floe.schema.product import DataProduct, parse_product
from floe.yamlsafe import load_file

#: dbt target used when a transform names none.
DEFAULT_TARGET = "floe"
#: The stages ``floe compile`` reports progress for (ADR-0016): platform, transforms, rules, write.
STEPS = 4
#: ``progress(kind, text)``: ``kind`` is ``step`` (the next numbered stage) or ``ok``, ``warn``,
#: ``fail`` (a line under the current stage).
Progress = Callable[[str, str], None]


class CompileFailed(FloeError):
    """Compile stopped; ``enforcement`` holds the rule results found before it did."""

    def __init__(self, diagnostics: list[Diagnostic], enforcement: list[EnforcementResult] | None = None):
        super().__init__(diagnostics)
        self.enforcement = list(enforcement or [])


@attrs.frozen
class CompileResult:
    """What ``compile`` produced: the artifacts, where they were written, and any warnings."""

    artifacts: CompiledArtifacts
    path: Path | None
    platform: PlatformLocation
    warnings: list[Diagnostic]


def compile_product(product_file: str | os.PathLike, platform: str | None = None,
                    env: str | None = None, output: str | os.PathLike | None = None,
                    registry: PluginRegistry | None = None, write: bool = True,
                    progress: Progress | None = None, update: bool = False) -> CompileResult:
    """Compile a product against its platform and (by default) write the artifacts.

    :param product_file: the floe.yaml.
    :param platform: an explicit platform file (``--platform``); otherwise discovered.
    :param env: the environment whose ``platform/<env>/platform.yaml`` to use.
    :param output: where to write; default ``.floe/compiled_artifacts.json`` beside floe.yaml.
    :param progress: called with each stage and its findings, for people watching.
    :param update: resolve ``oci://`` tags again and move ``floe.lock`` (else locked digests
        are used, with no network when the release is cached).
    :raises FloeError: with every problem found in either file or by enforcement
        (:class:`CompileFailed` once enforcement results exist).
    """
    progress = progress or (lambda kind, text: None)
    registry = registry or PluginRegistry()
    product_path = Path(product_file)
    product_dir = product_path.parent
    product_doc = load_file(product_path, display_path(product_path))
    product, product_report = parse_product(product_doc)
    if product is None:
        raise FloeError(product_report.items)
    location = locate_platform(product_dir, platform, product.platform.ref if product.platform else None,
                               env, update=update, public_key=required_platform_key(product, product_dir))
    platform_doc = location.release.document() if location.release else load_file(location.path, location.display)
    parsed, platform_report = parse_platform(platform_doc)
    if parsed is None or platform_report.errors:
        raise FloeError(product_report.items + platform_report.items)
    progress("step", f"Loading platform {location.display}")
    _check_compatible(product, product_dir, parsed, location)
    policy, parent_items = _policy(location, parsed, platform_report, update)
    if platform_report.errors or any(d.severity == ERROR for d in parent_items):
        raise FloeError(product_report.items + parent_items + platform_report.items)
    compiler = _Compiler(product, product_report, parsed, platform_report, registry, product_dir,
                         policy=policy, progress=progress, display_dir=_display_dir(product_path))
    artifacts = compiler.assemble(location, product_doc.text, platform_doc.text)
    warnings = product_report.warnings + platform_report.warnings + parent_items + compiler.warnings
    path = None
    if write:
        path = Path(output) if output else product_dir / DEFAULT_PATH
        progress("step", f"Writing {display_path(path)}")
        artifacts.write(path)
    return CompileResult(artifacts, path, location, warnings)


def required_platform_key(product: DataProduct, product_dir: Path) -> object:
    """The public key floe.yaml's ``platform.verify`` requires the platform release to be signed
    with, or ``None``; compile and ``floe platform update`` verify a pulled release with it.

    :raises FloeError: when the key (a PEM file, or a secret reference) cannot be read or is
        not a public key.
    """
    verify = product.platform.verify if product.platform else None
    if verify is None:
        return None
    from floe.releases.signing import public_key_from

    return public_key_from(verify.public_key, product_dir, "floe.yaml platform.verify.public_key")


def _check_compatible(product: DataProduct, product_dir: Path, parsed: ParsedPlatform,
                      location: PlatformLocation) -> None:
    from floe.releases.compatibility import check_compatible

    meta = parsed.platform.metadata
    check_compatible(product_dir, product.platform.version if product.platform else None, meta.name,
                     meta.version, location.display)


def _policy(location: PlatformLocation, parsed: ParsedPlatform, report: Report, update: bool = False
            ) -> tuple[Policy, list[Diagnostic]]:
    """The effective policy of the platform and its parents, and the parents' diagnostics.

    An incomplete chain always leaves an error in some report (see :func:`load_chain`).
    """
    chain, complete = load_chain(location.path, location.display, parsed, report,
                                 release=location.release, update=update)
    return merge(chain if complete else chain[-1:]), [d for f in chain[:-1] for d in f.report.items]


class _Compiler:
    def __init__(self, product: DataProduct, product_report: Report, parsed: ParsedPlatform,
                 platform_report: Report, registry: PluginRegistry, product_dir: Path,
                 policy: Policy, progress: Progress, display_dir: PurePosixPath):
        self.product = product
        self.product_report = product_report
        self.parsed = parsed
        self.platform = parsed.platform
        self.platform_report = platform_report
        self.registry = registry
        self.product_dir = product_dir
        self.resolver = Resolver(parsed, registry, platform_report, product=product, compiling=True)
        self.enforcement: list[EnforcementResult] = []
        self.policy = policy
        self.progress = progress
        self.display_dir = display_dir
        self.warnings: list[Diagnostic] = []
        self.fingerprints: dict[str, str] = {}
        #: Each dbt project as dbt parsed it, by project_dir (for the publish plan).
        self.projects: dict[str, DbtProjectModels] = {}
        self.outcome: Outcome | None = None

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
        self._report_platform(location, compute)
        dbt = self._enforce(self._dbt(compute, transforms))
        python_assets = PythonAssetsInfo(self.product.assets.path, list(self.product.assets.modules))
        plan = self._plan(dbt, python_assets)
        sections = {kind: _section(resolved) for kind, resolved in profiles.items()}
        secret_backends = [_section(b) for b in backends]
        refs = secret_refs([r.config for r in selected] + [self.platform.observability.lineage_transport])
        product = self.product
        meta = product.metadata
        platform_digest = "sha256:" + hashlib.sha256(platform_text.encode()).hexdigest()
        return CompiledArtifacts(
            contract_version=CONTRACT_VERSION,
            floe_version=__version__,
            source_hash=source_hash(product_text, platform_text, self._more_inputs()),
            product=ProductInfo(meta.name, meta.version, meta.owner, meta.domain, meta.description),
            platform=PlatformInfo(
                name=self.platform.metadata.name, version=self.platform.metadata.version,
                digest=platform_digest, source=self._where(self.policy.chain[-1]),
                scope=self.platform.metadata.scope,
                parents=self._parents(location),
                **_release_fields(location)),
            profiles=ResolvedProfiles(**sections),
            secret_backends=secret_backends,
            orchestrator=_section(orchestrator) if orchestrator else None,
            dbt=dbt,
            python_assets=python_assets,
            schedules=[ScheduleInfo(s.name, s.cron, s.timezone,
                                    list(s.transforms) if s.transforms is not None
                                    else [t.name for t in product.transforms], s.enabled)
                       for s in product.schedules],
            governance=CompiledGovernance(
                classification_source=product.governance.classification_source,
                emit_lineage=product.governance.emit_lineage,
                policy=plain_policy(self.policy),
                enforcement=self.enforcement,
                policy_sources={rule: self._where(f) for rule, f in sorted(self.policy.sources.items())},
                quality=self.outcome.quality if self.outcome else None,
                classifications=self.outcome.classifications if self.outcome else []),
            observability=self._observability(),
            secret_refs=[SecretRefInfo(r.secret_ref, r.key) for r in refs],
            publish=plan,
        )

    def _plan(self, dbt: Dbt, python_assets: PythonAssetsInfo) -> PublishPlan:
        """What run time builds and publishes: every dbt node and ``@floe_asset`` function."""
        from floe.asset_modules import discover
        from floe.plan import build_plan

        assets = discover(self.product_dir, python_assets)
        return build_plan(dbt.transforms, self.projects, assets, self.product_dir)

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
        # Unknown kinds were reported with the policy (floe.enforcement.inheritance).
        approved = self.policy.governance.approved_plugins
        results = check_approved(approved, [(r.kind, r.profile, r.type) for r in selected])
        for result, resolved in zip(results, [r for r in selected if r.kind in approved]):
            if result.status == "fail":
                where = ("profiles", resolved.kind) if resolved.kind in PROFILE_SECTIONS else ()
                self.product_report.error(where, result.message)
        self.enforcement += results

    def _report_platform(self, location: PlatformLocation, compute: Resolved) -> None:
        meta, arch = self.platform.metadata, self.policy.data_architecture
        self.progress("ok", "Platform: " + (" ".join(p for p in (meta.name, meta.version) if p)
                                            or location.display))
        if len(self.policy.chain) > 1:
            self.progress("ok", "Inherits: " + " -> ".join(f.display for f in self.policy.chain[:-1]))
        self.progress("ok", f"Compute: {compute.type}")
        self.progress("ok", f"Architecture: {arch.pattern} ({arch.naming.enforcement} enforcement)"
                      if arch.pattern else "Architecture: none (no naming rules)")

    def _enforce(self, dbt: Dbt) -> Dbt:
        """Read each dbt project as dbt parses it and apply the platform's rules to it."""
        self.progress("step", "Validating transforms")
        projects: dict[str, ProjectModels] = {}
        for transform in dbt.transforms:
            if transform.project_dir in projects:
                continue  # two selections of one project: its models are checked once
            output = dbt.profiles[transform.profile]["outputs"][transform.target]
            loaded = load_project(self.product_dir, transform.project_dir, transform.name,
                                  transform.profile, transform.target, output, transform.vars,
                                  display=self._shown(transform.project_dir))
            how = f"parsed by dbt in {loaded.parse_seconds:.1f} s" if loaded.parsed else "manifest up to date"
            self.progress("ok", f"{transform.name}: {len(loaded.project.models)} dbt models found ({how})")
            self._check_model_names(transform.project_dir, loaded.project.models)
            projects[transform.project_dir] = ProjectModels(transform.name, transform.project_dir,
                                                            loaded.project)
            self.projects[transform.project_dir] = loaded.project
            self.fingerprints[transform.project_dir] = loaded.fingerprint
        self.progress("step", "Enforcing platform rules")
        outcome = enforce(self.policy, projects.values(),
                          self.product.governance.classification_source == "dbt_meta")
        self.outcome = outcome
        approved = [r for r in self.enforcement if r.rule == "approved_plugins"]
        if approved:
            self.progress("ok", f"approved plugins: {len(approved)} selected "
                          f"{'plugin is' if len(approved) == 1 else 'plugins are'} approved")
        for line in outcome.summary:
            self.progress({"pass": "ok"}.get(line.status, line.status), f"{line.rule}: {line.message}")
        self.enforcement = self.enforcement + outcome.summary + outcome.results
        diagnostics = [Diagnostic(self._shown(r.file) if r.file else "", 0, 0, r.rule, r.message,
                                  ERROR if r.status == "fail" else WARNING)
                       for r in outcome.results if r.status != "pass"]
        if outcome.failed:
            raise CompileFailed(self.product_report.items + self.platform_report.items + diagnostics,
                                self.enforcement)
        self.warnings += diagnostics
        return attrs.evolve(dbt, transforms=[attrs.evolve(t, models=outcome.models.get(t.project_dir, []))
                                             for t in dbt.transforms])

    def _check_model_names(self, project_dir: str, models: tuple) -> None:
        """Refuse model names that cannot be table and Dagster asset names, at their files."""
        bad = [Diagnostic(self._shown(f"{project_dir}/{model.original_file_path}"), 0, 0, "models",
                          problem)
               for model in models if (problem := model_name_problem(model.name))]
        if bad:
            raise FloeError(self.product_report.items + self.platform_report.items + bad)

    def _where(self, file: PlatformFile) -> str:
        """A platform file as the artifacts name it: its ``oci://`` reference when it was pulled
        (the cache path differs between machines), else its path relative to the product."""
        return file.ref or _relative(file.path, self.product_dir)

    def _parents(self, location: PlatformLocation) -> list[str]:
        """The ancestors, nearest first; a pulled release lists those merged into it."""
        own = [self._where(f) for f in reversed(self.policy.chain[:-1])]
        if location.release is None:
            return own
        merged = [p.get("ref") or f"{p.get('name')} {p.get('version')}".strip()
                  for p in reversed(location.release.release.get("parents") or []) if isinstance(p, dict)]
        return own + merged

    def _shown(self, relative: str) -> str:
        """A product-relative path as the user names it (relative to where floe was started)."""
        return (self.display_dir / relative).as_posix() if str(self.display_dir) != "." else relative

    def _more_inputs(self) -> dict[str, str]:
        """Inputs besides the two files: parent platforms and the parsed dbt projects."""
        out = {f"parent:{self._where(f)}":
               hashlib.sha256(f.parsed.document.text.encode()).hexdigest() for f in self.policy.chain[:-1]}
        out.update({f"dbt:{project}": digest for project, digest in sorted(self.fingerprints.items())})
        return out

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
            attributes=dict(mine.attributes), lineage_transport=theirs.lineage_transport)


def source_hash(product_text: str, platform_text: str, more: dict[str, str] | None = None) -> str:
    """A digest of everything the artifacts were compiled from (``more``: other inputs' digests)."""
    inputs = {"contract_version": CONTRACT_VERSION,
              "floe.yaml": hashlib.sha256(product_text.encode()).hexdigest(),
              "platform.yaml": hashlib.sha256(platform_text.encode()).hexdigest(), **(more or {})}
    return "sha256:" + hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _release_fields(location: PlatformLocation) -> dict[str, str | None]:
    """``ref`` and ``release_digest`` of a platform pulled from a registry."""
    if location.release is None:
        return {}
    return {"ref": location.release.ref, "release_digest": location.release.digest}


def _section(resolved: Resolved) -> ResolvedSection:
    return ResolvedSection(resolved.profile, resolved.type, PluginProvenance(**resolved.plugin),
                           resolved.config)


def _relative(path: Path, base: Path) -> str:
    try:
        return PurePosixPath(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _display_dir(product_path: Path) -> PurePosixPath:
    return PurePosixPath(Path(display_path(product_path)).parent.as_posix())
