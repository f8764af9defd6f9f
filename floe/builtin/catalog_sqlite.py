"""Catalog ``sqlite``: the embedded Iceberg catalog, a SQLite file inside the product.

It needs no server, which makes it floe's default for a laptop: pyiceberg's ``SqlCatalog`` over
``sqlite:///<path>`` with the warehouse from the storage profile.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NamedTuple

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
        #: Always available: see commit_tables.
        multi_table_commit_unavailable = None

        def commit_tables(self, changes: list, journal: Any = None) -> list:
            """Commit several tables in one database transaction: all of them, or none.

            Each table's new metadata file is written first; then one transaction moves every
            table to its new file, each ``UPDATE`` checking that the table still points at the
            metadata the change was staged on (new tables are inserted). If any table moved
            meanwhile, the transaction is rolled back and every such table is named.
            """
            return _commit_tables(self, changes, journal)

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


def _commit_tables(catalog: Any, changes: list, journal: Any) -> list:
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table import StagedTable
    from sqlalchemy import insert, update
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session

    from pyiceberg.serializers import ToOutputFile

    from floe.runtime import compat
    from floe.runtime.commit import TablesCommitFailed
    from floe.runtime.journal import OBSOLETE, WRITTEN

    IcebergTables = _tables_model()  # noqa: N806 - a model class
    staged, failed, details = [], [], []
    for table, requirements, updates, metadata in changes:
        current = None if isinstance(table, StagedTable) else table
        name = ".".join(table.name())
        try:
            if current is not None and metadata is not None:
                new = _next_metadata(catalog, current, requirements, metadata)
            else:
                new = compat.sql_update_and_stage(catalog, current, table.name(), requirements, updates)
        except CommitFailedException as exc:
            failed.append(name)
            details.append(str(exc))
            continue
        staged.append((table, current, new))
    if failed:
        raise TablesCommitFailed(failed, "; ".join(details))
    for table, current, new in staged:
        name = ".".join(table.name())
        old = _old_metadata(current.metadata if current else None, new.metadata)
        if journal is not None:
            journal.record(name, WRITTEN, [new.metadata_location])
            journal.record(name, OBSOLETE, old)
        # A new file name (a fresh UUID): no need to ask the file system whether it exists.
        ToOutputFile.table_metadata(new.metadata, table.io.new_output(new.metadata_location), overwrite=True)
    with Session(catalog.engine) as session:
        for table, current, new in staged:
            namespace = catalog.namespace_to_string(catalog.namespace_from(table.name()))
            table_name = catalog.table_name_from(table.name())
            if current is None:
                try:
                    # A failed INSERT aborts only itself in SQLite; the transaction is rolled
                    # back below.
                    session.execute(insert(IcebergTables).values(**compat.sql_table_row(
                        catalog, namespace, table_name, new.metadata_location)))
                except IntegrityError:
                    failed.append(f"{namespace}.{table_name}")
                    details.append(f"table {namespace}.{table_name} was created meanwhile")
                continue
            moved = session.execute(update(IcebergTables).where(
                IcebergTables.catalog_name == catalog.name, IcebergTables.table_namespace == namespace,
                IcebergTables.table_name == table_name,
                IcebergTables.metadata_location == current.metadata_location,
            ).values(metadata_location=new.metadata_location,
                     previous_metadata_location=current.metadata_location))
            if moved.rowcount < 1:
                failed.append(f"{namespace}.{table_name}")
                details.append(f"{namespace}.{table_name} has been updated by another process")
        if failed:
            session.rollback()
        else:
            session.commit()
    if failed:
        from floe.runtime import snapshots

        for table, _, new in staged:
            snapshots.delete_files(table.io, [new.metadata_location])
        raise TablesCommitFailed(failed, "; ".join(details))
    from floe.runtime import snapshots

    for table, current, new in staged:
        snapshots.delete_files(table.io, _old_metadata(current.metadata if current else None, new.metadata))
    return [(new.metadata, new.metadata_location) for _, _, new in staged]


class _NextMetadata(NamedTuple):
    metadata: Any
    metadata_location: str


def _next_metadata(catalog: Any, current: Any, requirements: Any, staged: Any) -> _NextMetadata:
    """The table's next metadata from what staging computed: the requirements checked against
    the metadata the change was staged on, the previous file added to the metadata log.

    pyiceberg's catalogs apply every update again to a deep copy of the metadata, which was
    ~15 % of publishing a small table; staging already holds the result.
    """
    import time

    from pyiceberg.table.locations import load_location_provider
    from pyiceberg.table.metadata import MetadataLogEntry

    from floe.runtime import compat

    for requirement in requirements:
        requirement.validate(current.metadata)
    keep = max(1, int(staged.properties.get("write.metadata.previous-versions-max", 100)))
    log = [*staged.metadata_log, MetadataLogEntry(metadata_file=current.metadata_location,
                                                 timestamp_ms=current.metadata.last_updated_ms)]
    updated = staged.last_updated_ms
    if updated == current.metadata.last_updated_ms:
        updated = int(time.time() * 1000)
    metadata = staged.model_copy(update={"metadata_log": log[-keep:],
                                         "last_updated_ms": updated})
    version = compat.metadata_version(catalog, current.metadata_location) + 1
    location = load_location_provider(metadata.location, metadata.properties).new_table_metadata_file_location(version)
    return _NextMetadata(metadata, location)


def _old_metadata(base: Any, metadata: Any) -> list[str]:
    """Metadata files the new metadata's log no longer holds, when the table asks for their
    deletion (``write.metadata.delete-after-commit.enabled``, set on the tables floe creates)."""
    if base is None or metadata.properties.get("write.metadata.delete-after-commit.enabled") != "true":
        return []
    kept = {entry.metadata_file for entry in metadata.metadata_log}
    return sorted({entry.metadata_file for entry in base.metadata_log} - kept)


def _tables_model() -> Any:
    from pyiceberg.catalog.sql import IcebergTables

    return IcebergTables
