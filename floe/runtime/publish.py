"""Publishing query results as Iceberg tables: one atomic snapshot per table per run.

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
    return stage(catalog, namespace, name, data, asset=asset, mode=mode, unique_key=unique_key).commit()


class Staged:
    """One table's publish, done up to its commit."""

    def __init__(self, commit: Callable[[], tuple[TableResult, Any]],
                 discard: Callable[[], None] = lambda: None):
        self._commit = commit
        self._discard = discard
        #: The Arrow schema of the data, once it has been read.
        self.schema: Any = None

    def commit(self) -> TableResult:
        """Commit the table's new snapshot (or, for a new table or a merge, do all of it now)."""
        result, self.schema = self._commit()
        return result

    def discard(self) -> None:
        """Delete what staging wrote; the table is as it was."""
        self._discard()


def stage(catalog: Any, namespace: str, name: str, data: Any, *, asset: str,
          mode: str = "overwrite", unique_key: list[str] | None = None) -> Staged:
    """Everything of :func:`publish` but the commit.

    For a table that exists, the data files, manifest and manifest list are written and the
    snapshot (with any schema change) is staged, so the table changes only when
    :meth:`Staged.commit` is called, and the rows are not kept in memory meanwhile. A table that
    does not exist yet, or a merge, is written whole by ``commit()``: creating the table or
    upserting into it would change the catalog before then.

    :param data: a ``pyarrow.Table``, or a function returning one; a function is called when
        the rows are needed, so a run's new tables are read one at a time, at commit.
    :raises FloeError: when the schema changed in a way Iceberg cannot evolve.
    """
    from pyiceberg.exceptions import NoSuchTableError

    def read() -> Any:
        return _iceberg_compatible(data() if callable(data) else data)

    identifier = (namespace, name)
    if mode == "merge" and unique_key:
        return Staged(lambda: _merge(catalog, identifier, read(), asset, list(unique_key)))
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        return Staged(lambda: _create(catalog, identifier, read(), asset))
    if table.format_version > 2:
        raise FloeError(f"table {namespace}.{name} is in Iceberg format version {table.format_version}, "
                        "which floe cannot write yet (pyiceberg writes versions 1 and 2); publish "
                        "to a version 2 table, or drop this one and floe creates it")
    rows = read()
    transaction = _transaction(table)
    changes = _evolve(transaction, table, rows.schema, asset)
    staged = snapshots.stage(transaction, table.io, rows, replace=mode == "overwrite")
    # The rows are in files now: what the commit needs is their count and schema, not them.
    count, schema = rows.num_rows, rows.schema

    def commit() -> tuple[TableResult, Any]:
        _commit(transaction, table, staged)
        return _result(table, identifier, asset, count, mode, changes), schema

    return Staged(commit, lambda: snapshots.delete_files(table.io, staged.written))


class Publisher:
    """Publishes a run's tables: all staged first, then all committed.

    Staging (Parquet, manifests) runs on PUBLISH_THREADS threads; :meth:`commit` waits for it
    and commits only if every table staged, so a failure before the commit (a schema Iceberg
    cannot evolve, say) leaves every table as it was.
    """

    def __init__(self, threads: int = PUBLISH_THREADS):
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="floe-publish")
        self._staging: dict[str, Future] = {}
        self._finished = False  # committing began, or staging was discarded

    def submit(self, key: str, prepare: Callable[[], Staged]) -> None:
        """Stage one table (``prepare`` usually calls :func:`stage`); once per key."""
        if key not in self._staging:
            self._staging[key] = self._pool.submit(prepare)

    def commit(self) -> dict[str, TableResult]:
        """Commit every staged table; results in submission order.

        :raises: the first staging failure, with nothing committed; else the first commit
            failure, after every other table committed (tables are independent).
        """
        try:
            staged = self._wait()  # a staging failure discards what staged, and is raised
            self._finished = True
            commits = {key: self._pool.submit(item.commit) for key, item in staged.items()}
            results, failure = {}, None
            for key, future in commits.items():
                try:
                    results[key] = future.result()
                except Exception as exc:  # noqa: BLE001 - re-raised below, after the others
                    failure = failure or exc
            if failure is not None:
                raise failure
            return results
        finally:
            self._finished = True
            self._pool.shutdown()

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


def _create(catalog: Any, identifier: tuple[str, str], data: Any, asset: str) -> tuple[TableResult, Any]:
    with _NAMESPACE_LOCK:
        # SqlCatalog's create-if-not-exists is check-then-insert: two publishing threads
        # racing on a new namespace would hit its UNIQUE constraint.
        catalog.create_namespace_if_not_exists(identifier[0])
    table = catalog.create_table(identifier, schema=data.schema, properties=snapshots.TABLE_PROPERTIES)
    transaction = _transaction(table)
    _commit(transaction, table, snapshots.stage(transaction, table.io, data, replace=True))
    return _result(table, identifier, asset, data.num_rows, "create", ()), data.schema


def _merge(catalog: Any, identifier: tuple[str, str], data: Any, asset: str,
           unique_key: list[str]) -> tuple[TableResult, Any]:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        return _create(catalog, identifier, data, asset)
    changes = _evolve_now(table, data.schema, asset)
    table.upsert(data, join_cols=unique_key)
    snapshots.trim_history(table)
    return _result(table, identifier, asset, data.num_rows, "merge", changes), data.schema


def _result(table: Any, identifier: tuple[str, str], asset: str, rows: int, mode: str,
            changes: tuple[str, ...]) -> TableResult:
    snapshot = table.current_snapshot()
    return TableResult(asset=asset, table=".".join(identifier), rows=rows,
                       snapshot_id=snapshot.snapshot_id if snapshot else 0, mode=mode,
                       schema_changes=changes)


def _commit(transaction: Any, table: Any, staged: Any) -> None:
    """Commit a staged snapshot; delete the files of the snapshots it expired afterwards."""
    from pyiceberg.exceptions import CommitFailedException

    try:
        transaction.commit_transaction()
    except CommitFailedException as exc:
        # The catalog refused the commit, so nothing references what was written for it.
        snapshots.delete_files(table.io, staged.written)
        raise FloeError(f"table {'.'.join(table.name())} was changed by another writer while this "
                        f"run published it ({exc}); it keeps the other writer's snapshot. Run "
                        "again to publish on top of it") from None
    # After the commit: a failed commit never loses a file; a file that cannot be deleted
    # stays behind, unreferenced.
    snapshots.delete_files(table.io, snapshots.unreferenced_files(table.metadata, staged.expired, table.io))


def _transaction(table: Any) -> Any:
    """A pyiceberg transaction on ``table`` (see :func:`_cached_transaction`)."""
    return _cached_transaction()(table)


@functools.cache
def _cached_transaction() -> type:
    """A pyiceberg transaction that computes its staged metadata once per change, not per read.

    pyiceberg's ``Transaction.table_metadata`` re-applies every staged update to a deep copy of
    the table's metadata on each access, and one overwrite reads it ~30 times; that copying was
    most of a publish's cost and grew with the snapshot history. Here the updates are applied
    once per change, and without the final deep copy: each update already returns a new
    metadata object, and staging only reads it. The catalog's commit applies them for real.
    """
    from pyiceberg.table import Transaction

    class CachedTransaction(Transaction):
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


def _evolve_now(table: Any, schema: Any, asset: str) -> tuple[str, ...]:
    with _transaction(table) as transaction:
        return _evolve(transaction, table, schema, asset)


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
