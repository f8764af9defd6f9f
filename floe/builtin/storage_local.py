"""Storage ``local``: table files in a directory inside the product (the embedded default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from floe.builtin.paths import relative_path
from floe.plugins import ResolveContext, hookimpl

if TYPE_CHECKING:
    from floe.runtime import RunContext


@attrs.frozen
class LocalStorage:
    """``path``: the warehouse directory, relative to the product directory."""

    path: str = attrs.field(default=".floe/warehouse", validator=relative_path)


@hookimpl
def floe_storage_settings() -> type:
    """Local storage takes a warehouse ``path``."""
    return LocalStorage


@hookimpl
def floe_storage_resolve(settings: LocalStorage, context: ResolveContext) -> dict:
    """A relative path keeps the artifacts identical on every machine; run time anchors it."""
    if context.credentials is not None:
        context.error(("credentials",), "local storage takes no credentials; remove the block")
    return {"scheme": "file", "path": settings.path}


@hookimpl
def floe_storage_connect(config: dict, context: "RunContext") -> dict:
    """The warehouse directory under the product, created on first use."""
    root = context.path(config["path"])
    root.mkdir(parents=True, exist_ok=True)
    return {"warehouse": root.as_uri(), "properties": {}}


@hookimpl
def floe_storage_engine_properties(config: dict, context: "RunContext") -> dict:
    """The warehouse directory's URI: an engine on this machine writes there directly."""
    return {"warehouse": context.storage["warehouse"]}
