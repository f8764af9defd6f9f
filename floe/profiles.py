"""Resolving platform profiles through the plugins their ``type`` selects.

For one section (a storage, catalog or compute profile, a secret backend, the orchestrator):
load the plugin, validate its ``credentials`` block through the credential-mode plugin,
structure the remaining settings into the plugin's settings class, and call its ``resolve``
hook. Every problem lands in the report at its full dotted path.
"""

from __future__ import annotations

from typing import Any

import attrs

from floe.diagnostics import DocPath, Report
from floe.plugins.context import ResolveContext
from floe.plugins.manager import KIND_FIELD, PluginError, PluginRegistry
from floe.schema.platform import PROFILE_SECTIONS, ParsedPlatform
from floe.schema.structure import structure
from floe.schema.types import SecretRef, jsonable

#: Secret backends used when platform.yaml does not list any (SPEC §2): env, then Kubernetes.
DEFAULT_SECRET_BACKENDS = ("env", "k8s")
#: The orchestrator used when platform.yaml names none.
DEFAULT_ORCHESTRATOR = "dagster"


@attrs.frozen
class Resolved:
    """One resolved section as it is written into CompiledArtifacts."""

    kind: str
    profile: str
    type: str
    plugin: dict
    config: dict

    def to_json(self) -> dict:
        return {"profile": self.profile, "type": self.type, "plugin": self.plugin, "config": self.config}


class Resolver:
    """Resolves the sections of one platform, reporting into one report."""

    def __init__(self, parsed: ParsedPlatform, registry: PluginRegistry, report: Report,
                 product: Any = None, compiling: bool = False):
        self.parsed = parsed
        self.platform = parsed.platform
        self.registry = registry
        self.report = report
        self.product = product
        self.compiling = compiling

    # -- whole-platform walks -----------------------------------------------------------------

    def validate_all(self) -> dict[str, Any]:
        """Resolve every profile, backend and the orchestrator (``floe platform validate``)."""
        out: dict[str, Any] = {}
        for kind, section in PROFILE_SECTIONS.items():
            out[section] = {name: self.profile(kind, name) for name in self.platform.profiles(kind)}
        out["secrets"] = self.secret_backends()
        out["orchestrator"] = self.orchestrator()
        return out

    def profile(self, kind: str, name: str) -> Resolved | None:
        """Resolve the profile ``name`` of ``kind`` (it must exist)."""
        section = PROFILE_SECTIONS[kind]
        return self.section(kind, self.platform.profiles(kind)[name], (section, name), name)

    def secret_backends(self) -> list[Resolved]:
        """Resolve ``secrets.backends`` in order (the default order when unset)."""
        entries = self.platform.secrets.backends
        explicit = entries is not None
        if not explicit:
            installed = set(self.registry.types("secrets"))
            entries = [b for b in DEFAULT_SECRET_BACKENDS if b in installed]
        out = []
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            path: DocPath = ("secrets", "backends", index)
            raw = {"type": entry} if isinstance(entry, str) else entry
            resolved = self.section("secrets", raw, path, str(index))
            if resolved is None:
                continue
            if resolved.type in seen:
                self.report.error(path, f"secret backend '{resolved.type}' is listed twice")
            seen.add(resolved.type)
            out.append(resolved)
        return out

    def orchestrator(self) -> Resolved | None:
        """Resolve ``orchestrator`` (Dagster when unset and installed)."""
        raw = self.platform.orchestrator
        if raw is None:
            if DEFAULT_ORCHESTRATOR not in self.registry.types("orchestrator"):
                return None
            raw = {"type": DEFAULT_ORCHESTRATOR}
        return self.section("orchestrator", raw, ("orchestrator",), "orchestrator")

    # -- one section --------------------------------------------------------------------------

    def section(self, kind: str, raw: Any, path: DocPath, name: str) -> Resolved | None:
        """Validate and resolve one section through its plugin; None when it has errors."""
        errors_before = len(self.report.errors)
        field = KIND_FIELD[kind]
        if not isinstance(raw, dict):
            self.report.error(path, f"expected a mapping with '{field}: <{kind} type>'")
            return None
        type_name = raw.get(field)
        if not isinstance(type_name, str) or not type_name:
            self.report.error(path + (field,) if field in raw else path,
                              f"missing '{field}': " + self._installed_hint(kind))
            return None
        try:
            plugin = self.registry.load(kind, type_name)
        except PluginError as exc:
            for diag in exc.diagnostics:
                self.report.error(path + (field,), diag.message)
            return None
        settings_data = {k: v for k, v in raw.items() if k not in (field, "credentials")}
        credentials = None
        if "credentials" in raw:
            if kind not in ("storage", "catalog", "compute"):
                self.report.error(path + ("credentials",), f"a {kind} section takes no credentials")
            else:
                cred = self.section("credentials", raw["credentials"], path + ("credentials",),
                                    "credentials")
                credentials = cred.config if cred is not None else None
        settings = self._settings(plugin, settings_data, path)
        if len(self.report.errors) > errors_before or (settings is None and plugin.settings_class):
            return None
        context = ResolveContext(kind=kind, type=type_name, profile=name, path=path,
                                 report=self.report, credentials=credentials,
                                 product=self.product, platform=self.platform)
        try:
            config = plugin.resolve(settings, context)
        except PluginError as exc:  # a fault inside the plugin: located at the section it resolved
            for diag in exc.diagnostics:
                self.report.error(path, diag.message)
            return None
        if len(self.report.errors) > errors_before:
            return None
        if not isinstance(config, dict):
            self.report.error(path, f"{kind} plugin '{type_name}' ({plugin.distribution}) returned "
                              f"{type(config).__name__} from its resolve hook; expected a dict")
            return None
        config = jsonable(config)
        if kind == "credentials":
            config = {"mode": type_name, **config}
        return Resolved(kind, name, type_name, plugin.provenance, config)

    def _settings(self, plugin: Any, data: dict, path: DocPath) -> Any:
        cls = plugin.settings_class
        if cls is None:
            for key in data:
                self.report.error(path + (key,), f"{plugin.kind} type '{plugin.type}' takes no settings")
            return None
        if path in self.parsed.selection_only and not self.compiling:
            # `plugins: {catalog: {type: polaris}}` selects a plugin without configuring it.
            scratch = Report(self.report.file, self.report.positions)
            settings = structure(data, cls, scratch, path)
            if settings is None:
                self.report.warn(path, f"'{plugin.type}' is selected but not configured; products "
                                 "cannot compile against it until its settings are added under "
                                 f"{'.'.join(str(p) for p in path)}")
            return settings
        return structure(data, cls, self.report, path)

    def _installed_hint(self, kind: str) -> str:
        types = self.registry.types(kind)
        return f"installed {kind} {KIND_FIELD[kind]}s: {', '.join(types) or '(none)'}"


def secret_refs(value: Any) -> list[SecretRef]:
    """Every secret reference in a resolved (JSON-ready) structure, sorted and unique."""
    found: set[SecretRef] = set()

    def walk(item: Any) -> None:
        if isinstance(item, SecretRef):
            found.add(item)
        elif isinstance(item, dict):
            if set(item) in ({"secret_ref"}, {"secret_ref", "key"}) and isinstance(item["secret_ref"], str):
                found.add(SecretRef(item["secret_ref"], item.get("key")))
            else:
                for sub in item.values():
                    walk(sub)
        elif isinstance(item, (list, tuple)):
            for sub in item:
                walk(sub)

    walk(value)
    return sorted(found)
