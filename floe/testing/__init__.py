"""A test kit for plugin authors (and floe's own plugins).

Use it from pytest (the fixtures come with floe through the ``pytest11`` entry point)::

    from floe.testing import assert_plugin_conforms

    def test_my_catalog_honours_the_contract():
        assert_plugin_conforms(
            "catalog", "glue",
            valid=[{"region": "eu-west-1", "warehouse": "s3://lake"}],
            invalid=[({"region": 5}, "region: expected a string")],
        )

Run-time hooks are exercised too: :func:`assert_secret_backend_round_trip` (a backend's
``lookup``/``describe``), :func:`connect_storage` and :func:`connect_catalog` (a connect on the
fixtures' servers, with a table written and read back), over a real
:class:`floe.runtime.RunContext` built by :func:`run_context`.

Fixtures: ``floe_registry`` (a fresh :class:`~floe.plugins.PluginRegistry`),
``floe_register`` (register an in-process plugin object for one test) and, for plugins that
talk to AWS, ``floe_moto`` (a moto server on 127.0.0.1, one per session, reset for each test,
with fake AWS keys in the environment; its endpoint URL is the fixture's value).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import attrs

from floe.diagnostics import Report
from floe.plugins.manager import KIND_FIELD, PLUGIN_KINDS, Plugin, PluginRegistry
from floe.profiles import Resolved, Resolver
from floe.schema.platform import PROFILE_SECTIONS, ParsedPlatform, Platform
from floe.yamlsafe import Document

__all__ = ["assert_plugin_conforms", "assert_runtime_hooks", "assert_secret_backend_round_trip",
           "connect_catalog", "connect_storage", "registered", "resolve_section", "run_context"]


@contextmanager
def registered(registry: PluginRegistry, kind: str, type_name: str, obj: Any) -> Iterator[Plugin]:
    """Register ``obj`` as the ``kind`` plugin ``type_name`` for the duration of a ``with`` block."""
    plugin = registry.register(kind, type_name, obj)
    try:
        yield plugin
    finally:
        registry.unregister(kind, type_name)


def _section_path(kind: str) -> tuple:
    if kind in PROFILE_SECTIONS:
        return (PROFILE_SECTIONS[kind], "default")
    if kind == "secrets":
        return ("secrets", "backends", 0)
    if kind == "credentials":
        return ("storage", "default", "credentials")
    return (kind,)


def resolve_section(kind: str, type_name: str, settings: dict, registry: PluginRegistry | None = None,
                    product: Any = None) -> tuple[Resolved | None, Report]:
    """Validate and resolve one section exactly as ``floe compile`` would; return it and the report."""
    registry = registry or PluginRegistry()
    report = Report("platform.yaml")
    parsed = ParsedPlatform(Platform(apiVersion="floe.dev/v1", kind="Platform"),
                            Document("platform.yaml", {}, {}), frozenset())
    resolver = Resolver(parsed, registry, report, product=product, compiling=True)
    raw = {KIND_FIELD[kind]: type_name, **settings}
    return resolver.section(kind, raw, _section_path(kind), "default"), report


def assert_plugin_conforms(kind: str, type_name: str, valid: Iterable[dict] = (),
                           invalid: Iterable[tuple[dict, str]] = (),
                           registry: PluginRegistry | None = None) -> None:
    """Check that a plugin honours floe's hook contract.

    - it loads (from its entry point, or ``registry`` for in-process plugins) and its hooks match
      :mod:`floe.plugins.hookspecs`;
    - its settings class, if any, is an attrs class;
    - every ``valid`` settings mapping resolves without errors to JSON-ready data, the same
      result twice (compile must be deterministic), and with ``dbt_profile`` for compute;
    - every ``invalid`` mapping fails with an error whose text contains the expected fragment;
    - it implements the run-time hooks ``floe run`` needs from its kind
      (:data:`floe.plugins.contract.RUNTIME_HOOKS`).

    Run-time behaviour is checked by :func:`assert_secret_backend_round_trip`,
    :func:`connect_storage` and :func:`connect_catalog` (:mod:`floe.testing.runtime`).
    """
    assert kind in PLUGIN_KINDS, f"unknown kind {kind!r}; kinds: {PLUGIN_KINDS}"
    registry = registry or PluginRegistry()
    plugin = registry.load(kind, type_name)
    cls = plugin.settings_class
    assert cls is None or attrs.has(cls), f"floe_{kind}_settings must return an attrs class, got {cls!r}"
    assert_runtime_hooks(plugin)
    for settings in valid:
        first, report = resolve_section(kind, type_name, settings, registry)
        assert first is not None and not report.errors, (
            f"valid settings {settings!r} were refused:\n" + "\n".join(map(str, report.items)))
        second, _ = resolve_section(kind, type_name, settings, registry)
        assert second == first, "resolve is not deterministic: two calls gave different results"
        json.dumps(first.config, sort_keys=True, allow_nan=False)
        if kind == "compute":
            assert "dbt_profile" in first.config, "a compute plugin must resolve to a dbt_profile"
    for settings, fragment in invalid:
        resolved, report = resolve_section(kind, type_name, settings, registry)
        messages = "\n".join(map(str, report.errors))
        assert resolved is None and report.errors, f"invalid settings {settings!r} were accepted"
        assert fragment in messages, f"expected an error containing {fragment!r}, got:\n{messages}"


from floe.testing.runtime import (assert_runtime_hooks, assert_secret_backend_round_trip,  # noqa: E402
                                  connect_catalog, connect_storage, run_context)
