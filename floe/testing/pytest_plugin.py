"""pytest fixtures for plugin authors, registered through the ``pytest11`` entry point."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from floe.plugins.manager import Plugin, PluginRegistry


@pytest.fixture
def floe_registry() -> PluginRegistry:
    """A fresh plugin registry: installed plugins plus what the test registers."""
    return PluginRegistry()


@pytest.fixture
def floe_register(floe_registry: PluginRegistry) -> Iterator[Callable[[str, str, Any], Plugin]]:
    """Register an in-process plugin object for this test: ``floe_register("compute", "x", obj)``."""
    added: list[tuple[str, str]] = []

    def register(kind: str, type_name: str, obj: Any) -> Plugin:
        added.append((kind, type_name))
        return floe_registry.register(kind, type_name, obj)

    yield register
    for kind, type_name in added:
        floe_registry.unregister(kind, type_name)
