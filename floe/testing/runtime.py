"""Run-time checks of the test kit: a plugin's run-time hooks, called as ``floe run`` calls them.

Every section is first resolved exactly as ``floe compile`` would (:func:`resolve_section`), so
the hooks receive the ``config`` a real run reads from CompiledArtifacts, and a real
:class:`floe.runtime.RunContext` anchored at a product directory of the test's choosing::

    from floe.testing import assert_secret_backend_round_trip, connect_storage

    def test_my_backend_finds_what_it_holds(monkeypatch):
        monkeypatch.setenv("SHOP_DB", "s3cr3t")
        assert_secret_backend_round_trip("env", {}, present={"shop-db": "s3cr3t"},
                                         missing=["no-such-secret"])

    def test_my_storage_connects(tmp_path, floe_moto):
        storage = connect_storage("s3", {"bucket": "lake", "endpoint": floe_moto}, tmp_path)
        assert storage["warehouse"] == "s3://lake"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import attrs

from floe.plugins.contract import RUNTIME_ALTERNATIVES, RUNTIME_HOOKS, expected
from floe.plugins.manager import Plugin, PluginRegistry
from floe.profiles import Resolved

__all__ = ["assert_runtime_hooks", "assert_secret_backend_round_trip", "connect_catalog", "connect_storage",
           "run_context"]


def assert_runtime_hooks(plugin: Plugin) -> None:
    """Fail, naming each hook and its signature, when ``plugin`` lacks a hook ``floe run`` needs."""
    def has(hook: str) -> bool:
        return plugin.implements(hook.split("_", 2)[2])

    missing = [hook for hook in RUNTIME_HOOKS[plugin.kind]
               if not has(hook) and not (hook in RUNTIME_ALTERNATIVES and has(RUNTIME_ALTERNATIVES[hook]))]
    assert not missing, (f"{plugin.kind} plugin '{plugin.type}' does not implement what `floe run` needs:\n"
                         + "\n".join(f"{hook}\n{expected(hook)}" for hook in missing))


@attrs.frozen
class _Profiles:
    storage: Any = None
    catalog: Any = None
    compute: Any = None


@attrs.frozen
class _KitArtifacts:
    """The parts of CompiledArtifacts that RunContext reads for connecting and secrets."""

    profiles: _Profiles
    secret_backends: list
    dbt: Any = attrs.Factory(lambda: _Dbt())


@attrs.frozen
class _Dbt:
    profiles: dict = attrs.Factory(dict)


def _resolve(kind: str, type_name: str, settings: Mapping[str, Any], registry: PluginRegistry) -> Resolved:
    from floe.testing import resolve_section

    resolved, report = resolve_section(kind, type_name, dict(settings), registry)
    assert resolved is not None and not report.errors, (
        f"{kind} settings {dict(settings)!r} were refused:\n" + "\n".join(map(str, report.items)))
    json.dumps(resolved.config, allow_nan=False)
    return resolved


def run_context(product_dir: Path, *, storage: tuple[str, Mapping] | None = None,
                catalog: tuple[str, Mapping] | None = None, compute: tuple[str, Mapping] | None = None,
                secrets: Iterable[tuple[str, Mapping]] = (("env", {}),),
                registry: PluginRegistry | None = None) -> Any:
    """A :class:`floe.runtime.RunContext` over the given ``(type, settings)`` sections.

    ``context.storage`` and ``context.catalog`` then call the plugins' connect hooks, and
    ``context.secret(ref)`` asks the ``secrets`` backends in order, as in a run.
    """
    from floe.runtime import RunContext

    registry = registry or PluginRegistry()
    sections = {kind: _resolve(kind, *given, registry) if given else None
                for kind, given in (("storage", storage), ("catalog", catalog), ("compute", compute))}
    backends = [_resolve("secrets", type_name, settings, registry) for type_name, settings in secrets]
    artifacts = _KitArtifacts(_Profiles(**sections), backends)
    return RunContext(artifacts, Path(product_dir), registry=registry)  # type: ignore[arg-type]


def assert_secret_backend_round_trip(type_name: str, settings: Mapping[str, Any], present: Mapping[str, str],
                                     missing: Iterable[str] = (), registry: PluginRegistry | None = None) -> None:
    """Check a secret backend's ``lookup`` and ``describe`` hooks against secrets the test put there.

    - each ``present`` ref (``name`` or ``name#key``) is found, as a masked
      :class:`floe.runtime.secrets.SecretValue` whose ``repr``/``str`` hide the value;
    - each ``missing`` ref returns ``None`` from lookup, and ``describe`` (when implemented)
      names the places looked in without any value of ``present`` in them.
    """
    from floe.runtime.secrets import SecretValue
    from floe.schema.types import SecretRef

    registry = registry or PluginRegistry()
    plugin = registry.load("secrets", type_name)
    assert_runtime_hooks(plugin)
    config = _resolve("secrets", type_name, settings, registry).config

    def ref_of(text: str) -> SecretRef:
        name, _, key = text.partition("#")
        return SecretRef(name, key or None)

    for text, value in present.items():
        found = plugin.call("lookup", config=config, ref=ref_of(text))
        assert isinstance(found, SecretValue), (
            f"floe_secrets_lookup must return a floe.runtime.secrets.SecretValue for {text!r}, "
            f"got {type(found).__name__}")
        assert found.reveal() == value, f"lookup of {text!r} returned another value"
        assert value not in repr(found) and value not in str(found), "the SecretValue shows its value"
    for text in missing:
        ref = ref_of(text)
        assert plugin.call("lookup", config=config, ref=ref) is None, (
            f"lookup of {text!r} must return None when the backend does not hold it")
        if plugin.implements("describe"):
            places = plugin.call("describe", config=config, ref=ref)
            assert isinstance(places, list) and places and all(isinstance(p, str) for p in places), (
                f"floe_secrets_describe must return a non-empty list of strings, got {places!r}")
            leaked = [v for v in present.values() if any(v in p for p in places)]
            assert not leaked, "floe_secrets_describe shows a secret value"


def connect_storage(type_name: str, settings: Mapping[str, Any], product_dir: Path,
                    registry: PluginRegistry | None = None, **context: Any) -> dict:
    """Call a storage plugin's ``connect`` hook as a run does and check the shape it returns:
    ``{"warehouse": <URI>, "properties": {<str>: <str>, ...}}``."""
    registry = registry or PluginRegistry()
    assert_runtime_hooks(registry.load("storage", type_name))
    run = run_context(product_dir, storage=(type_name, settings), registry=registry, **context)
    connected = run.storage
    assert isinstance(connected, dict) and isinstance(connected.get("warehouse"), str), (
        f"floe_storage_connect must return {{'warehouse': <URI>, 'properties': {{...}}}}, got {connected!r}")
    assert "://" in connected["warehouse"], f"warehouse {connected['warehouse']!r} is not a URI"
    properties = connected.get("properties", {})
    assert isinstance(properties, dict), "properties must be a dict of pyiceberg FileIO properties"
    return connected


def connect_catalog(type_name: str, settings: Mapping[str, Any], product_dir: Path,
                    storage: tuple[str, Mapping] = ("local", {}), registry: PluginRegistry | None = None,
                    round_trip: bool = True, **context: Any) -> Any:
    """Call a catalog plugin's ``connect`` hook as a run does; with ``round_trip``, create a
    namespace and a table in the catalog, append a row and read it back with pyiceberg."""
    registry = registry or PluginRegistry()
    assert_runtime_hooks(registry.load("catalog", type_name))
    run = run_context(product_dir, storage=storage, catalog=(type_name, settings), registry=registry, **context)
    catalog = run.catalog
    from pyiceberg.catalog import Catalog

    assert isinstance(catalog, Catalog), f"floe_catalog_connect must return a pyiceberg Catalog, got {catalog!r}"
    if round_trip:
        import pyarrow as pa

        namespace = "floe_test_kit"
        if (namespace,) not in [tuple(n) for n in catalog.list_namespaces()]:
            catalog.create_namespace(namespace)
        data = pa.table({"id": pa.array([1, 2], pa.int64()), "name": pa.array(["a", "b"])})
        identifier = f"{namespace}.round_trip"
        if catalog.table_exists(identifier):
            catalog.drop_table(identifier)
        table = catalog.create_table(identifier, schema=data.schema)
        table.append(data)
        read = catalog.load_table(identifier).scan().to_arrow()
        assert read.sort_by("id").to_pylist() == data.to_pylist(), "the table read back differs"
    return catalog
