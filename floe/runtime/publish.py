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
from floe.runtime.outcome import TableResult

#: How a model's rows reach its table.
MODES = ("overwrite", "append", "merge")
#: Tables published at once. Writing Parquet releases the GIL, so two threads keep both cores
#: of a small machine busy; more only add contention on the catalog.
PUBLISH_THREADS = 2
_NAMESPACE_LOCK = threading.Lock()
#: Snapshots beyond SNAPSHOTS_KEPT tolerated before they are expired together.
EXPIRE_BATCH = 4
#: Snapshots kept per table for time travel. Every commit copies the table's metadata, so an
#: unbounded history would make each publish slower than the last.
SNAPSHOTS_KEPT = 10
#: Table properties that bound the metadata log the same way.
TABLE_PROPERTIES = {"write.metadata.previous-versions-max": str(SNAPSHOTS_KEPT),
                    "write.metadata.delete-after-commit.enabled": "true"}


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
        table = catalog.create_table(identifier, schema=data.schema, properties=TABLE_PROPERTIES)
        created = True
    if mode == "merge" and unique_key and not created:
        changes = _evolve_now(table, data.schema, asset)
        table.upsert(data, join_cols=list(unique_key))
    else:
        # Schema change and data in one transaction: one commit, one new snapshot.
        with _transaction(table) as transaction:
            changes = () if created else _evolve(transaction, table, data.schema, asset)
            if mode in ("append", "merge") or created:
                transaction.append(data)
            else:
                _replace_all(transaction, table, data)
            expired = _expire_old_snapshots(transaction)
        if expired:
            _delete_unreferenced_files(table, expired)
    snapshot = table.current_snapshot()
    return TableResult(asset=asset, table=f"{namespace}.{name}", rows=data.num_rows,
                       snapshot_id=snapshot.snapshot_id if snapshot else 0,
                       mode="create" if created else mode, schema_changes=changes)


def publish_many(tasks: Sequence[Callable[[], TableResult]],
                 threads: int = PUBLISH_THREADS) -> list[TableResult]:
    """Run publish tasks (each publishing one table) concurrently; results in task order.

    Every task runs to its end even when another fails, so no table is left mid-commit; the
    first failure (in task order) is raised afterwards.
    """
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="floe-publish") as pool:
        futures = [pool.submit(task) for task in tasks]
    return [future.result() for future in futures]


def _replace_all(transaction: Any, table: Any, data: Any) -> None:
    """Swap every data file for ``data`` in a single ``overwrite`` snapshot.

    pyiceberg's own ``overwrite`` commits a delete snapshot and then an append snapshot, so the
    history would show an empty table between runs; this keeps one snapshot per run.
    """
    from pyiceberg.io.pyarrow import _dataframe_to_data_files
    from pyiceberg.table.snapshots import Operation

    existing = [task.file for task in table.scan().plan_files()]
    operation = Operation.OVERWRITE if table.current_snapshot() is not None else Operation.APPEND
    with _ReplaceAll(operation=operation, transaction=transaction, io=table.io) as overwrite:
        for data_file in existing:
            overwrite.delete_data_file(data_file)
        if data.num_rows:
            for data_file in _dataframe_to_data_files(table_metadata=transaction.table_metadata,
                                                      write_uuid=overwrite.commit_uuid, df=data,
                                                      io=table.io):
                overwrite.append_data_file(data_file)


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


def _expire_old_snapshots(transaction: Any) -> list[Any]:
    """Expire all but the newest SNAPSHOTS_KEPT snapshots; return the expired ones."""
    from pyiceberg.table.update.snapshot import ExpireSnapshots

    snapshots = sorted(transaction.table_metadata.snapshots, key=lambda snap: snap.timestamp_ms)
    # Expire in batches: every metadata update in a commit costs a copy of the whole metadata.
    if len(snapshots) <= SNAPSHOTS_KEPT + EXPIRE_BATCH:
        return []
    expired = snapshots[:-SNAPSHOTS_KEPT]
    with ExpireSnapshots(transaction=transaction) as expire:
        expire.by_ids([snap.snapshot_id for snap in expired])
    return expired


def _delete_unreferenced_files(table: Any, expired: list[Any]) -> None:
    """Delete the data and manifest files only expired snapshots referenced.

    Expiring a snapshot removes it from the metadata, not its files; without this, a table that
    is overwritten every run would keep a full copy of itself per run on disk. Runs after the
    commit, so a failed commit never loses a file; a file that cannot be deleted stays behind.
    """
    io = table.io
    live = _referenced_files(table.metadata.snapshots, io)
    dead = _referenced_files(expired, io, include_deleted=True) - live
    for path in sorted(dead):
        try:
            io.delete(path)
        except (OSError, ValueError):
            pass


def _referenced_files(snapshots: Sequence[Any], io: Any, include_deleted: bool = False) -> set[str]:
    paths: set[str] = set()
    manifests = {}
    for snapshot in snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            manifests.setdefault(manifest.manifest_path, manifest)
    for path, manifest in manifests.items():
        paths.add(path)
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=not include_deleted):
            paths.add(entry.data_file.file_path)
    return paths


def _replace_all_producer() -> type:
    from pyiceberg.table.update.snapshot import _OverwriteFiles

    class ReplaceAll(_OverwriteFiles):
        """pyiceberg's overwrite, minus manifests that hold no live file.

        pyiceberg carries a manifest whose entries were all deleted by an earlier overwrite into
        every later snapshot, so each publish read and rewrote one more manifest than the last
        (4x slower after 20 runs). Such manifests describe nothing current; dropping them keeps
        the cost of a publish flat however long the history grows.
        """

        def _existing_manifests(self) -> list:
            return [m for m in super()._existing_manifests()
                    if m.added_files_count is None or m.existing_files_count is None
                    or m.added_files_count + m.existing_files_count > 0]

    return ReplaceAll


def _ReplaceAll(**kwargs: Any) -> Any:  # noqa: N802 - reads as the class it builds
    return _replace_all_producer()(**kwargs)


def _evolve(transaction: Any, table: Any, schema: Any, asset: str) -> tuple[str, ...]:
    from pyiceberg.exceptions import ValidationError
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    current = schema_to_pyarrow(table.schema(), include_field_ids=False)
    if [(f.name, f.type) for f in current] == [(f.name, f.type) for f in schema]:
        return ()  # the common case: nothing to evolve, so no schema update in the commit
    before = _columns(table.schema())
    try:
        with transaction.update_schema() as update:
            update.union_by_name(schema)
    except (ValidationError, ValueError) as exc:
        raise _schema_error(table, asset, exc) from None
    return _changes(before, _columns(transaction.table_metadata.schema()))


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
