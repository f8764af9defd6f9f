"""Catalog ``sqlite``: the embedded Iceberg catalog, a SQLite file inside the product.

It needs no server, which makes it floe's default for a laptop: pyiceberg's ``SqlCatalog`` over
``sqlite:///<path>`` with the warehouse from the storage profile.
"""

from __future__ import annotations

import attrs

from floe.builtin.paths import relative_path
from typing import TYPE_CHECKING, Any

from floe.plugins import ResolveContext, hookimpl

if TYPE_CHECKING:
    from floe.runtime import RunContext


@attrs.frozen
class SqliteCatalog:
    """``path``: the catalog database file, relative to the product directory."""

    path: str = attrs.field(default=".floe/catalog.db", validator=relative_path)
    name: str = "floe"


@hookimpl
def floe_catalog_settings() -> type:
    """The embedded catalog takes a database ``path`` and a catalog ``name``."""
    return SqliteCatalog


@hookimpl
def floe_catalog_resolve(settings: SqliteCatalog, context: ResolveContext) -> dict:
    """Resolve to the catalog's name and database path (anchored at run time)."""
    if context.credentials is not None:
        context.error(("credentials",), "the embedded sqlite catalog takes no credentials; "
                      "remove the block")
    return {"name": settings.name, "path": settings.path}


@hookimpl
def floe_catalog_connect(config: dict, storage: dict, context: "RunContext") -> Any:
    """pyiceberg's ``SqlCatalog`` over the SQLite file, tables under the storage warehouse."""
    from pyiceberg.catalog.sql import SqlCatalog

    database = context.path(config["path"])
    database.parent.mkdir(parents=True, exist_ok=True)
    return SqlCatalog(config["name"], uri=f"sqlite:///{database}", warehouse=storage["warehouse"],
                      **storage["properties"])
