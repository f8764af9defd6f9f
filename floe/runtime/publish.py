"""Publishing query results as Iceberg tables: one atomic snapshot per table per run.

A table's schema follows its model: new columns and widened types evolve the Iceberg schema by
name (field ids and history kept); a change Iceberg cannot express fails naming the model, the
column and both types, and leaves the table as it was.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

from floe.diagnostics import FloeError
from floe.runtime import snapshots
from floe.runtime.outcome import TableResult

#: How a model's rows reach its table.
MODES = ("overwrite", "append", "merge")
#: Tables published at once. Writing Parquet releases the GIL, so two threads keep both cores
#: of a small machine busy; more only add contention on the catalog.
PUBLISH_THREADS = 2
_NAMESPACE_LOCK = threading.Lock()


def publish(catalog: Any, namespace: str, name: str, data: Any, *, asset: str,
            mode: str = "overwrite", unique_key: list[str] | None = None) -> TableResult:
    """Write ``data`` (a ``pyarrow.Table``) to ``namespace.name`` as one new snapshot.

    :param mode: ``overwrite`` replaces the rows, ``append`` adds them, ``merge`` upserts them
        on ``unique_key``.
    :raises FloeError: when the schema changed in a way Iceberg cannot evolve.
    """
    from pyiceberg.exceptions import NoSuchTableError

    data = _iceberg_compatible(data)
    identifier = (namespace, name)
    try:
        table = catalog.load_table(identifier)
        created = False
    except NoSuchTableError:
        with _NAMESPACE_LOCK:
            # SqlCatalog's create-if-not-exists is check-then-insert: two publishing threads
            # racing on a new namespace would hit its UNIQUE constraint.
            catalog.create_namespace_if_not_exists(namespace)
        table = catalog.create_table(identifier, schema=data.schema, properties=snapshots.TABLE_PROPERTIES)
        created = True
    if mode == "merge" and unique_key and not created:
        changes = _evolve_now(table, data.schema, asset)
        table.upsert(data, join_cols=list(unique_key))
        snapshot = table.current_snapshot()
    else:
        # Schema change and data in one transaction: one commit, one new snapshot.
        transaction = _transaction(table)
        changes = () if created else _evolve(transaction, table, data.schema, asset)
        snapshot = _commit_data(transaction, table, data, replace=mode == "overwrite" and not created)
    return TableResult(asset=asset, table=f"{namespace}.{name}", rows=data.num_rows,
                       snapshot_id=snapshot.snapshot_id if snapshot else 0,
                       mode="create" if created else mode, schema_changes=changes)


def _commit_data(transaction: Any, table: Any, data: Any, replace: bool) -> Any:
    """Commit ``data`` as one snapshot; files of snapshots it expires are deleted afterwards."""
    from pyiceberg.exceptions import CommitFailedException

    if transaction.table_metadata.format_version > 2:  # row lineage: pyiceberg's own producers
        with transaction:
            (transaction.overwrite if replace else transaction.append)(data)
        return table.current_snapshot()
    staged = snapshots.stage(transaction, table.io, data, replace=replace)
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
    return staged.snapshot


def publish_many(tasks: Sequence[Callable[[], TableResult]],
                 threads: int = PUBLISH_THREADS) -> list[TableResult]:
    """Run publish tasks (each publishing one table) concurrently; results in task order.

    Every task runs to its end even when another fails, so no table is left mid-commit; the
    first failure (in task order) is raised afterwards.
    """
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="floe-publish") as pool:
        futures = [pool.submit(task) for task in tasks]
    return [future.result() for future in futures]


def _transaction(table: Any) -> Any:
    """A pyiceberg transaction that computes its staged metadata once per change, not per read.

    pyiceberg's ``Transaction.table_metadata`` re-applies every staged update to a deep copy of
    the table's metadata on each access, and one overwrite reads it ~30 times; that copying was
    most of a publish's cost and grew with the snapshot history.
    """
    from pyiceberg.table import Transaction
    from pyiceberg.table.update import update_table_metadata

    class CachedTransaction(Transaction):
        _staged_for: Any = None
        _staged: Any = None

        @property
        def table_metadata(self) -> Any:
            # _updates is an immutable tuple replaced on every change: its identity is the key.
            if self._staged_for is not self._updates:
                self._staged = update_table_metadata(self._table.metadata, self._updates)
                self._staged_for = self._updates
            return self._staged

    return CachedTransaction(table)


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
