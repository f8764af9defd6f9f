"""Finding, loading and calling plugins.

Split of work:

* **stevedore** finds plugins and imports only the one a profile's ``type`` names (one
  entry-point group per kind, ``floe.<kind>``; the entry-point name is the type). Its
  entry-point cache keeps discovery at ~15 ms, so ``floe platform validate`` stays fast and
  never imports a backend the platform does not select.
* **importlib.metadata** supplies provenance (distribution name and version) for the plugins
  that are actually used, for ``floe plugins list`` and for CompiledArtifacts.
* **pluggy** carries the hooks: each loaded plugin gets a ``PluginManager`` of its own, so its
  hookimpls are checked against :mod:`floe.plugins.hookspecs` (misspelled hooks and unknown
  arguments are errors) and calling a hook calls exactly that plugin.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from floe.diagnostics import Diagnostic, FloeError, did_you_mean, one_of
from floe.plugins import contract, hookspecs

if TYPE_CHECKING:
    import importlib.metadata

#: Plugin kinds and the platform.yaml section each configures.
PLUGIN_KINDS = ("storage", "catalog", "compute", "credentials", "secrets", "orchestrator")
#: Where each kind's types are written, for messages.
KIND_FIELD = {"storage": "type", "catalog": "type", "compute": "type", "credentials": "mode",
              "secrets": "type", "orchestrator": "type"}
#: Hooks every plugin of a kind must implement.
REQUIRED_HOOKS = {kind: (f"floe_{kind}_resolve",) for kind in PLUGIN_KINDS}


def group(kind: str) -> str:
    """The entry-point group of a plugin kind: ``floe.compute``."""
    return f"floe.{kind}"


def distribution_name(kind: str, type_name: str) -> str:
    """The conventional distribution for a type: ``floe-plugin-catalog-glue``."""
    return f"floe-plugin-{kind}-{type_name.replace('_', '-')}"


#: The (kind, type) of every plugin the floe project publishes, as ``distribution_name`` names it. Only these are ever
#: suggested to ``pip install``: a name made up from a typo could be registered by anyone.
PUBLISHED = frozenset({("catalog", "polaris"), ("compute", "duckdb"), ("compute", "trino"),
                       ("orchestrator", "dagster"), ("secrets", "aws"), ("secrets", "k8s")})


def _lines(lines: list[str]) -> list[Diagnostic]:
    """One diagnostic per line, so that each prints on a line of its own."""
    return [Diagnostic("", 0, 0, "", line) for line in lines]


class PluginError(FloeError):
    """A plugin that is missing, broken or registered twice; the message says what to do."""


class PluginFailure(PluginError):
    """An exception raised inside a plugin's hook, reported as that plugin's failure.

    ``plugin``, ``hook`` and ``error`` (the original exception) are kept for callers.
    """

    def __init__(self, plugin: "Plugin", hook: str, error: BaseException):
        self.plugin, self.hook, self.error = plugin, hook, error
        where = f"{plugin.distribution} {plugin.version}".strip()
        detail = str(error) or "(no message)"
        super().__init__(f"{plugin.kind} plugin '{plugin.type}' ({where}) failed in {hook}: "
                         f"{type(error).__name__}: {detail}. The plugin raised this itself, not floe; "
                         f"if your settings look right, report it to the maintainers of "
                         f"{plugin.distribution} (FLOE_DEBUG=1 shows the traceback)")


@attrs.frozen
class PluginInfo:
    """An installed plugin as ``floe plugins list`` shows it (nothing imported)."""

    kind: str
    type: str
    distribution: str
    version: str
    target: str

    def to_json(self) -> dict:
        return attrs.asdict(self)


@attrs.define
class Plugin:
    """A loaded plugin: its provenance and a hook relay that calls only this plugin."""

    kind: str
    type: str
    obj: Any
    hook: Any
    distribution: str = ""
    version: str = ""

    @functools.cached_property
    def settings_class(self) -> type | None:
        """The attrs class describing this plugin's settings, or None for none."""
        return self._invoke("settings")

    def resolve(self, settings: Any, context: Any) -> dict:
        """Call this plugin's ``floe_<kind>_resolve`` hook."""
        return self._invoke("resolve", settings=settings, context=context)

    def implements(self, verb: str) -> bool:
        """Whether this plugin implements the optional hook ``floe_<kind>_<verb>``."""
        return bool(getattr(self.hook, f"floe_{self.kind}_{verb}").get_hookimpls())

    def call(self, verb: str, **kwargs: Any) -> Any:
        """Call this plugin's ``floe_<kind>_<verb>`` hook; a missing hook is a clear error.

        :raises PluginFailure: when the hook raises anything but a :class:`FloeError`.
        """
        name = f"floe_{self.kind}_{verb}"
        if not getattr(self.hook, name).get_hookimpls():
            raise PluginError(f"{self.kind} plugin '{self.type}' ({self.distribution} {self.version}) "
                              f"does not implement {name}, which this command needs; upgrade it")
        return self._invoke(verb, **kwargs)

    def _invoke(self, verb: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.hook, f"floe_{self.kind}_{verb}")(**kwargs)
        except FloeError:
            raise  # the plugin's own message for the user
        except Exception as exc:
            from floe.environment_errors import environment_problem

            # A full disk or a read-only folder is the machine's problem, not the plugin's: it
            # goes up as it is, and the CLI says what to do about it.
            if os.environ.get("FLOE_DEBUG") or environment_problem(exc) is not None:
                raise
            raise PluginFailure(self, f"floe_{self.kind}_{verb}", exc) from exc

    @property
    def provenance(self) -> dict:
        """``{distribution, version}`` for CompiledArtifacts."""
        return {"distribution": self.distribution, "version": self.version}


def check_plugin(kind: str, type_name: str, obj: Any, origin: str) -> Any:
    """Register ``obj`` with a fresh pluggy manager and verify it honours the hook contract.

    :returns: the manager's hook relay.
    :raises PluginError: naming the plugin and ``origin`` for an unknown or misspelled hook, a
        hookimpl argument the spec lacks, a hook of another kind, or a missing required hook.
    """
    label = f"{kind} plugin '{type_name}' ({origin})"
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    try:
        pm.register(obj, name=f"{group(kind)}:{type_name}")
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        found = contract.problems(kind, obj) or [[str(line) for line in str(exc).splitlines()]]
        raise PluginError(_lines([f"{label} does not match floe's hook contract: {found[0][0]}",
                                  *found[0][1:], *(line for more in found[1:] for line in more)])) from None
    implemented = {caller.name for caller in pm.get_hookcallers(obj) or []}
    foreign = sorted(h for h in implemented if not h.startswith(f"floe_{kind}_"))
    if foreign:
        raise PluginError(f"{label} implements hooks of another kind: {', '.join(foreign)}; "
                          f"publish those under their own entry-point group")
    missing = [h for h in REQUIRED_HOOKS[kind] if h not in implemented]
    if missing:
        raise PluginError(_lines([f"{label} does not implement {', '.join(missing)}",
                                  *(contract.expected(h) for h in missing)]))
    return pm.hook


class PluginRegistry:
    """The plugins of one floe process: discovered lazily, loaded once each."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, str], Plugin] = {}
        self._local: dict[tuple[str, str], Plugin] = {}

    # -- discovery ----------------------------------------------------------------------------

    def types(self, kind: str) -> list[str]:
        """Type names installed for ``kind`` (plus in-process registrations), without importing."""
        names = {ep.name for ep in _entry_points(kind)}
        names.update(t for k, t in self._local if k == kind)
        return sorted(names)

    def installed(self) -> list[PluginInfo]:
        """Every installed plugin with its distribution and version (nothing imported)."""
        out = [PluginInfo(kind, ep.name, *_provenance(kind, ep.name, ep.value), ep.value)
               for kind in PLUGIN_KINDS for ep in _entry_points(kind)]
        out += [PluginInfo(p.kind, p.type, p.distribution, p.version, repr(p.obj))
                for p in self._local.values()]
        return sorted(out, key=lambda p: (PLUGIN_KINDS.index(p.kind), p.type, p.distribution))

    # -- loading ------------------------------------------------------------------------------

    def load(self, kind: str, type_name: str) -> Plugin:
        """Import and check the plugin of ``kind`` named ``type_name``.

        :raises PluginError: unknown type (listing installed ones and the package to install),
            the same type from two distributions, or an import failure naming the distribution.
        """
        key = (kind, type_name)
        if key in self._local:
            return self._local[key]
        if key in self._loaded:
            return self._loaded[key]
        matches = [ep for ep in _entry_points(kind) if ep.name == type_name]
        if not matches:
            raise PluginError(self.unknown_type_message(kind, type_name))
        if len({ep.value for ep in matches}) > 1:
            dists = [_provenance(kind, type_name, ep.value)[0] for ep in matches]
            raise PluginError(f"{kind} type '{type_name}' is registered by more than one "
                              f"distribution: {' and '.join(sorted(dists))}; uninstall one of them")
        plugin = _load_with_stevedore(kind, type_name)
        self._loaded[key] = plugin
        return plugin

    def unknown_type_message(self, kind: str, type_name: Any) -> str:
        """``no compute plugin 'duckdbb' is installed (did you mean 'duckdb'?); installed ...``.

        A package to ``pip install`` is named only when floe publishes it (:data:`PUBLISHED`);
        a type floe does not know points at ``floe plugins list`` instead.
        """
        installed = self.types(kind)
        name = str(type_name)
        hint = did_you_mean(name, installed)
        text = (f"no {kind} plugin '{name}' is installed{hint}; installed {kind} "
                f"{KIND_FIELD[kind]}s: {one_of(installed)}.")
        if (kind, name) in PUBLISHED:
            return f"{text} To add it: pip install {distribution_name(kind, name)}"
        if hint:
            return text
        return (f"{text} floe publishes no {kind} plugin of that name; install the distribution "
                f"that provides it, then check `floe plugins list`")

    # -- in-process registration (tests and the plugin-author kit) -----------------------------

    def register(self, kind: str, type_name: str, obj: Any, distribution: str = "(in-process)",
                 version: str = "0") -> Plugin:
        """Register a plugin object without an entry point; it wins over installed ones."""
        if kind not in PLUGIN_KINDS:
            raise ValueError(f"unknown plugin kind {kind!r}; kinds: {', '.join(PLUGIN_KINDS)}")
        hook = check_plugin(kind, type_name, obj, distribution)
        plugin = Plugin(kind, type_name, obj, hook, distribution, version)
        self._local[(kind, type_name)] = plugin
        return plugin

    def unregister(self, kind: str, type_name: str) -> None:
        """Remove an in-process registration."""
        self._local.pop((kind, type_name), None)


def _entry_points(kind: str) -> "list[importlib.metadata.EntryPoint]":
    from stevedore import NamedExtensionManager

    return list(NamedExtensionManager(group(kind), names=[]).list_entry_points())


def _load_with_stevedore(kind: str, type_name: str) -> Plugin:
    from stevedore import NamedExtensionManager

    failures: list[tuple[str, BaseException]] = []

    def on_failure(_manager: Any, entry_point: Any, exc: BaseException) -> None:
        failures.append((entry_point.value, exc))

    manager = NamedExtensionManager(group(kind), names=[type_name],
                                    on_load_failure_callback=on_failure,
                                    on_missing_entrypoints_callback=lambda names: None)
    if failures:
        target, exc = failures[0]
        dist, version = _provenance(kind, type_name, target)
        raise PluginError(f"{kind} plugin '{type_name}' from {dist} {version} failed to import "
                          f"({target}): {type(exc).__name__}: {exc}. Reinstall or upgrade {dist}")
    extension = manager[type_name]
    dist, version = _provenance(kind, type_name, extension.entry_point.value)
    hook = check_plugin(kind, type_name, extension.plugin, f"{dist} {version}")
    return Plugin(kind, type_name, extension.plugin, hook, dist, version)


@functools.lru_cache(maxsize=1)
def _distribution_index() -> dict[tuple[str, str, str], tuple[str, str]]:
    import importlib.metadata

    index: dict[tuple[str, str, str], tuple[str, str]] = {}
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group.startswith("floe."):
                index.setdefault((ep.group, ep.name, ep.value),
                                 (dist.metadata["Name"], dist.version))
    return index


def _provenance(kind: str, type_name: str, target: str) -> tuple[str, str]:
    return _distribution_index().get((group(kind), type_name, target), ("(unknown distribution)", ""))

