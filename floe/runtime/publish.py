"""Publishing query results as Iceberg tables: one snapshot per table, one catalog commit per run.

A table's schema follows its model: new columns and widened types evolve the Iceberg schema by
name (field ids and history kept); a change Iceberg cannot express fails naming the model, the
column and both types, and leaves the table as it was.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from floe.diagnostics import FloeError
from floe.runtime import compat, snapshots
from floe.runtime.commit import commit_tables, compat_table
from floe.runtime.journal import Journal, JournalingIO
from floe.runtime.outcome import TableResult

#: Tables published at once. Writing Parquet releases the GIL, so two threads keep both cores
#: of a small machine busy; more only add contention on the catalog.
PUBLISH_THREADS = 2
_NAMESPACE_LOCK = threading.Lock()


def publish(catalog: Any, namespace: str, name: str, data: Any, *, asset: str,
            mode: str = "overwrite", unique_key: list[str] | None = None) -> TableResult:
    """Write ``data`` (a ``pyarrow.Table``) to ``namespace.name`` as one new snapshot.

    :param mode: ``overwrite`` replaces the rows, ``append`` adds them, ``merge`` upserts them
        on ``unique_key``.
    :raises FloeError: when the schema changed in a way Iceberg cannot evolve, or another
        writer committed to the table meanwhile.
    """
    staged = stage_table(catalog, namespace, name, data, asset=asset, mode=mode, unique_key=unique_key)
    try:
        commit_tables(catalog, [staged])
    except BaseException:
        if not staged.committed:
            staged.discard()
        raise
    return staged.result


class Staged:
    """One table's publish, done up to its commit: files written, snapshot staged.

    Nothing in the catalog has changed yet; :func:`commit_tables` makes it visible (together
    with the other tables of the run), :meth:`discard` deletes what staging wrote.
    """

    def __init__(self, transaction: Any, table: Any, result: TableResult, schema: Any,
                 written: list[str], expired: list[Any]):
        self.transaction = transaction
        #: The table as it was when staging began (a ``StagedTable`` for a new one).
        self.table = table
        #: What the commit will make of the table (its snapshot id is the staged one).
        self.result = result
        #: The Arrow schema of the data.
        self.schema = schema
        self.written = written
        self.expired = expired
        #: Set once the catalog has taken this table's commit.
        self.committed = False
        self._obsolete: list[str] | None = None

    def obsolete(self) -> list[str]:
        """The files the commit makes unreferenced (of the snapshots it expires)."""
        if self._obsolete is None:
            self._obsolete = snapshots.unreferenced_files(self.transaction.table_metadata, self.expired,
                                                          self.table.io)
        return self._obsolete

    @property
    def identifier(self) -> tuple[str, ...]:
        return tuple(self.table.name())

    def view(self) -> Any:
        """The table as it will be after the commit, for reading inside the run."""
        from pyiceberg.table import Table

        return Table(self.table.name(), metadata=self.transaction.table_metadata,
                     metadata_location=self.table.metadata_location or "", io=self.table.io,
                     catalog=self.table.catalog)

    def discard(self) -> None:
        """Delete what staging wrote; the table is as it was."""
        snapshots.delete_files(self.table.io, self.written)


def stage_table(catalog: Any, namespace: str, name: str, data: Any, *, asset: str,
          mode: str = "overwrite", unique_key: list[str] | None = None,
          journal: Journal | None = None) -> Staged:
    """Everything of :func:`publish` but the commit.

    The data files, manifest and manifest list are written and the snapshot (with any schema
    change, or the table's creation) is staged, so the catalog changes only when
    :func:`commit_tables` runs, and the rows are not kept in memory meanwhile.

    :param data: a ``pyarrow.Table``, or a function returning one (called once, here).
    :param journal: where each file is recorded before it is written, so that a run killed
        before its commit leaves nothing the next run cannot find and delete.
    :raises FloeError: when the schema changed in a way Iceberg cannot evolve.
    """
    from pyiceberg.exceptions import NoSuchTableError

    identifier = (namespace, name)
    rows = _iceberg_compatible(data() if callable(data) else data)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        table = None
    if table is None:
        with _NAMESPACE_LOCK:
            # SqlCatalog's create-if-not-exists is check-then-insert: two publishing threads
            # racing on a new namespace would hit its UNIQUE constraint.
            catalog.create_namespace_if_not_exists(namespace)
        transaction = _transaction(catalog.create_table_transaction(
            identifier, schema=rows.schema, properties=snapshots.TABLE_PROPERTIES))
        table, mode, changes = compat_table(transaction), "create", ()
    else:
        if table.format_version > 2:
            raise FloeError(f"table {namespace}.{name} is in Iceberg format version {table.format_version}, "
                            "which floe cannot write yet (pyiceberg writes versions 1 and 2); publish "
                            "to a version 2 table, or drop this one and floe creates it")
        transaction = _transaction(table) if mode != "merge" or not unique_key else table.transaction()
        changes = _evolve(transaction, table, rows.schema, asset)
    # Every file the publish creates is recorded, so that a publish that is not committed can
    # delete them all (pyiceberg's upsert writes its own, out of floe's sight).
    io = table.io = JournalingIO(table.io, journal, ".".join(identifier))
    count, schema = rows.num_rows, rows.schema
    if mode == "merge" and unique_key:
        transaction.upsert(rows, join_cols=list(unique_key))
        written = io.written
        expired = snapshots.stage_expiry(transaction)
    else:
        staged = snapshots.stage_snapshot(transaction, table.io, rows, replace=mode != "append")
        written, expired = staged.written, staged.expired
    del rows  # in files now: the commit needs their count and schema, not the rows
    snapshot = transaction.table_metadata.current_snapshot()
    result = TableResult(asset=asset, table=".".join(identifier), rows=count,
                         snapshot_id=snapshot.snapshot_id if snapshot else 0, mode=mode,
                         schema_changes=changes)
    staged = Staged(transaction, table, result, schema, written, expired)
    staged.obsolete()  # reading the expired snapshots' manifests here keeps it off the commit
    return staged


class Publisher:
    """Publishes a run's tables: all staged first, then all committed in one catalog commit.

    Staging (Parquet, manifests) runs on PUBLISH_THREADS threads; :meth:`commit` waits for it
    and commits only if every table staged, so a failure before the commit (a schema Iceberg
    cannot evolve, say) leaves every table as it was.
    """

    def __init__(self, catalog: Any, threads: int = PUBLISH_THREADS, journal: Journal | None = None):
        self.catalog = catalog
        self.journal = journal
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="floe-publish")
        self._staging: dict[str, Future] = {}
        self._finished = False  # committing began, or staging was discarded
        #: How the last commit reached the catalog (see :func:`commit_tables`).
        self.how = ""

    def submit(self, key: str, prepare: Callable[[], Staged]) -> None:
        """Stage one table (``prepare`` usually calls :func:`stage`); once per key."""
        if key not in self._staging:
            self._staging[key] = self._pool.submit(prepare)

    def wait(self, keys: Any = None) -> dict[str, Staged]:
        """Wait for the staging of ``keys`` (default: all); raise the first failure."""
        wanted = self._staging if keys is None else {k: self._staging[k] for k in keys}
        return {key: future.result() for key, future in wanted.items()}

    def staged(self, identifier: tuple[str, ...]) -> Staged | None:
        """The staged publish of a table, if this run has one that finished staging."""
        for future in self._staging.values():
            if future.done() and future.exception() is None and future.result().identifier == identifier:
                return future.result()
        return None

    def commit(self) -> dict[str, TableResult]:
        """Commit every staged table at once; results in submission order.

        :raises: the first staging failure, with nothing committed; else the commit failure
            (naming every table that could not be committed).
        """
        try:
            staged = self._wait()  # a staging failure discards what staged, and is raised
            self._finished = True
            try:
                self.how = commit_tables(self.catalog, list(staged.values()), self.journal)
            except BaseException:
                for item in staged.values():
                    if not item.committed:
                        item.discard()
                raise
            return {key: item.result for key, item in staged.items()}
        finally:
            self._finished = True
            self._pool.shutdown()
            if self.journal is not None:
                self.journal.close()

    def discard(self) -> None:
        """Wait for staging to stop and delete what it wrote; no table changes.

        Does nothing once :meth:`commit` began (committed snapshots own their files) or the
        staging was discarded already.
        """
        if self._finished:
            return
        self._finished = True
        try:
            for item in self._wait(raise_first=False).values():
                item.discard()
        finally:
            self._pool.shutdown()
            if self.journal is not None:
                self.journal.close()

    def _wait(self, raise_first: bool = True) -> dict[str, Staged]:
        staged, failure = {}, None
        for key, future in self._staging.items():
            try:
                staged[key] = future.result()
            except BaseException as exc:  # noqa: BLE001 - raised below, once all have stopped
                failure = failure or exc
        if failure is not None and raise_first:
            for item in staged.values():
                item.discard()
            raise failure
        return staged


class StagedView:
    """A catalog whose ``load_table`` answers with a run's staged tables as they will be after
    its commit, so an asset reads what the assets before it in the run produced."""

    def __init__(self, catalog: Any, publisher: Publisher):
        self._catalog = catalog
        self._publisher = publisher

    def load_table(self, identifier: Any) -> Any:
        staged = self._publisher.staged(tuple(self._catalog.identifier_to_tuple(identifier)))
        return staged.view() if staged is not None else self._catalog.load_table(identifier)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._catalog, name)


def _transaction(table: Any) -> Any:
    """A pyiceberg transaction on ``table`` (see :func:`_cached_transaction`); given a
    create-table transaction, the same kind of transaction for the table it creates."""
    from pyiceberg.table import CreateTableTransaction

    if isinstance(table, CreateTableTransaction):
        return _cached_transaction(CreateTableTransaction)(compat_table(table))
    return _cached_transaction()(table)


@functools.cache
def _cached_transaction(base: type | None = None) -> type:
    """A pyiceberg transaction that computes its staged metadata once per change, not per read.

    pyiceberg's ``Transaction.table_metadata`` re-applies every staged update to a deep copy of
    the table's metadata on each access, and one overwrite reads it ~30 times; that copying was
    most of a publish's cost and grew with the snapshot history. Here the updates are applied
    once per change, and without the final deep copy: each update already returns a new
    metadata object, and staging only reads it. The catalog's commit applies them for real.
    """
    from pyiceberg.table import Transaction

    class CachedTransaction(base or Transaction):
        _staged_for: Any = None
        _staged: Any = None

        @property
        def table_metadata(self) -> Any:
            # The staged updates are an immutable tuple replaced on every change: its identity
            # is the key.
            updates = compat.staged_updates(self)
            if self._staged_for is not updates:
                self._staged = compat.apply_updates(compat.base_metadata(self), updates)
                self._staged_for = updates
            return self._staged

    return CachedTransaction


def _evolve(transaction: Any, table: Any, schema: Any, asset: str) -> tuple[str, ...]:
    from pyiceberg.exceptions import ValidationError
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    current = schema_to_pyarrow(table.schema(), include_field_ids=False)
    if _shape(current) == _shape(schema):
        return ()  # the common case: nothing to evolve, so no schema update in the commit
    before = _columns(table.schema())
    try:
        with transaction.update_schema() as update:
            update.union_by_name(schema)
    except (ValidationError, ValueError) as exc:
        raise _schema_error(table, asset, exc) from None
    return _changes(before, _columns(transaction.table_metadata.schema()))


def _shape(schema: Any) -> list[tuple[str, Any]]:
    """Column names and types, with Arrow's 64-bit-offset variants (pyiceberg reads strings as
    ``large_string``, DuckDB writes ``string``) taken as the Iceberg type they both map to."""
    import pyarrow as pa

    large = {pa.large_string(): pa.string(), pa.large_binary(): pa.binary()}
    return [(field.name, large.get(field.type, field.type)) for field in schema]


def _schema_error(table: Any, asset: str, exc: Exception) -> FloeError:
    return FloeError(f"model '{asset}': the table {'.'.join(table.name())} cannot take the new "
                     f"schema: {exc}. Iceberg can add columns and widen types (int → long, "
                     "float → double) but not this; cast the column back in the model or give "
                     "it a new name. The table was left unchanged")


def _columns(schema: Any) -> dict[str, str]:
    return {field.name: str(field.field_type) for field in schema.fields}


def _changes(before: dict[str, str], after: dict[str, str]) -> tuple[str, ...]:
    changes = [f"added {name} {kind}" for name, kind in after.items() if name not in before]
    changes += [f"widened {name} {before[name]} → {kind}" for name, kind in after.items()
                if name in before and before[name] != kind]
    return tuple(changes)


def _iceberg_compatible(data: Any) -> Any:
    """Cast Arrow types Iceberg has no equivalent for (unsigned integers) to ones it has."""
    import pyarrow as pa

    casts = {pa.uint8(): pa.int32(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(),
             pa.uint64(): pa.decimal128(20, 0)}
    if not any(field.type in casts for field in data.schema):
        return data
    schema = pa.schema([field.with_type(casts.get(field.type, field.type)) for field in data.schema])
    return data.cast(schema)
