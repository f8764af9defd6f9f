"""Catalog ``sqlite``: the embedded Iceberg catalog, a SQLite file inside the product.

It needs no server, which makes it floe's default for a laptop: pyiceberg's ``SqlCatalog`` over
``sqlite:///<path>`` with the warehouse from the storage profile.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import attrs

from floe.builtin.paths import relative_path
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
    from floe.builtin.relocation import catalog_properties, relocation

    database = context.path(config["path"])
    database.parent.mkdir(parents=True, exist_ok=True)
    # A copied or moved product reads and writes its tables where it is now (see relocation).
    properties = catalog_properties(relocation(database, context.product_dir, storage["warehouse"]),
                                    storage["properties"])
    return embedded_catalog(config["name"], uri=f"sqlite:///{database}", warehouse=storage["warehouse"],
                            **properties)


def embedded_catalog(name: str, **properties: str) -> Any:
    """A :class:`pyiceberg.catalog.sql.SqlCatalog` that commits on the metadata it was given.

    pyiceberg's ``SqlCatalog.commit_table`` reads the table's current metadata file again before
    every commit. The ``UPDATE`` that then moves the table to its new metadata already checks,
    atomically, that the table still points at the metadata the committer started from (and
    fails the commit otherwise), so the committer's own copy serves as well and the re-read
    only costs time: ~15 % of publishing a table.
    """
    return _embedded_catalog_class()(name, **properties)


@functools.cache
def _embedded_catalog_class() -> type:
    # Built on first use: pyiceberg is a run-time dependency, not one of `floe validate`.
    import threading

    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table import StagedTable

    class EmbeddedCatalog(SqlCatalog):
        _committing = threading.local()

        def commit_table(self, table: Any, requirements: Any, updates: Any) -> Any:
            committed = table.metadata_location and not isinstance(table, StagedTable)
            self._committing.table = table if committed else None
            try:
                return super().commit_table(table, requirements, updates)
            finally:
                self._committing.table = None

        def load_table(self, identifier: Any) -> Any:
            table = getattr(self._committing, "table", None)
            if table is not None and tuple(table.name()) == self.identifier_to_tuple(identifier):
                return table
            return super().load_table(identifier)

    return EmbeddedCatalog
