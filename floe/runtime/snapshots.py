"""Iceberg snapshots written by floe: the data file, one manifest, the manifest list, the commit.

pyiceberg's snapshot producers do much more than a publish needs: an overwrite plans a scan to
find the files it replaces, rewrites every manifest that holds one of them, and commits a delete
snapshot before the append snapshot. A model's table is replaced whole or appended to, so floe
writes the snapshot itself:

- one Parquet file per ~512 MB of Arrow data, written with pyarrow straight from the query
  result (field ids attached, no copy for flat columns), statistics from the Parquet footer;
- one manifest per snapshot, holding the files it adds and, for a replacement, the previous
  files as ``DELETED`` entries (so readers of the history still see what went away);
- the table's history bounded to :data:`SNAPSHOTS_KEPT`: one expired snapshot per publish, and
  the files only it used deleted after the commit — a flat cost per publish, however long the
  table has existed.

Everything goes through a pyiceberg ``Transaction``, so the catalog (SQLite, REST/Polaris)
checks the same requirements as for pyiceberg's own commits. Format versions 1 and 2 are
written (pyiceberg cannot write version 3 yet).
"""

from __future__ import annotations

import uuid
from typing import Any, Iterator, NamedTuple, Sequence

from floe.runtime import compat
from floe.runtime.manifests import entries
from floe.runtime.manifests import of_snapshot as manifests_of

#: Snapshots kept per table for time travel; older ones are expired by the publish that
#: makes them too old.
SNAPSHOTS_KEPT = 10
#: Table properties floe sets on the tables it creates: the metadata log is bounded the same way.
TABLE_PROPERTIES = {"write.metadata.previous-versions-max": str(SNAPSHOTS_KEPT),
                    "write.metadata.delete-after-commit.enabled": "true"}
_FIELD_ID = b"PARQUET:field_id"


class StagedSnapshot(NamedTuple):
    """A snapshot staged in a transaction: the files it wrote, and the snapshots the commit
    will expire."""

    written: list[str]
    expired: list[Any]


def stage_snapshot(transaction: Any, io: Any, data: Any, *, replace: bool) -> StagedSnapshot:
    """Write ``data`` as a new snapshot of the transaction's table and stage its commit.

    :param replace: the snapshot holds only ``data`` (an overwrite); otherwise ``data`` is
        added to the rows the table has (an append).
    :returns: the staged snapshot; if the commit does not happen, delete ``written``.
    """
    from pyiceberg.manifest import ManifestEntry, ManifestEntryStatus, write_manifest, write_manifest_list
    from pyiceberg.table.locations import load_location_provider
    from pyiceberg.table.refs import MAIN_BRANCH, SnapshotRefType
    from pyiceberg.table.snapshots import Operation, Snapshot
    from pyiceberg.table.update import AddSnapshotUpdate, AssertRefSnapshotId, SetSnapshotRefUpdate

    metadata = transaction.table_metadata
    locations = load_location_provider(table_location=metadata.location,
                                       table_properties=metadata.properties)
    commit_uuid = uuid.uuid4()
    snapshot_id = metadata.new_snapshot_id()
    parent = metadata.current_snapshot()
    schema, spec = metadata.schema(), metadata.spec()
    compression = metadata.properties.get("write.avro.compression-codec", "gzip")
    written: list[str] = []
    try:
        added = list(write_data_files(metadata, io, locations, data, commit_uuid, written))
        carried, deleted = [], []
        if parent is not None:
            for manifest in manifests_of(io, parent):
                if replace:
                    deleted += entries(io, manifest)
                elif _has_live_files(manifest):
                    carried.append(manifest)
        manifests = list(carried)
        if added or deleted:
            path = locations.new_metadata_location(f"{commit_uuid}-m0.avro")
            written.append(path)
            with write_manifest(format_version=metadata.format_version, spec=spec, schema=schema,
                                output_file=io.new_output(path), snapshot_id=snapshot_id,
                                avro_compression=compression) as writer:
                for data_file in added:
                    writer.add(ManifestEntry.from_args(status=ManifestEntryStatus.ADDED,
                                                       snapshot_id=snapshot_id, data_file=data_file))
                for entry in deleted:
                    writer.delete(entry)
            manifests.insert(0, writer.to_manifest_file())
        sequence_number = metadata.next_sequence_number()
        manifest_list = locations.new_metadata_location(f"snap-{snapshot_id}-0-{commit_uuid}.avro")
        written.append(manifest_list)
        with write_manifest_list(format_version=metadata.format_version,
                                 output_file=io.new_output(manifest_list), snapshot_id=snapshot_id,
                                 parent_snapshot_id=parent.snapshot_id if parent else None,
                                 sequence_number=sequence_number, avro_compression=compression) as lists:
            lists.add_manifests(manifests)
        operation = Operation.OVERWRITE if replace and parent is not None else Operation.APPEND
        snapshot = Snapshot(snapshot_id=snapshot_id,
                            parent_snapshot_id=parent.snapshot_id if parent else None,
                            sequence_number=sequence_number, manifest_list=manifest_list,
                            summary=_summary(operation, added, deleted, parent, schema, spec),
                            schema_id=metadata.current_schema_id)
        compat.stage_updates(
            transaction, (AddSnapshotUpdate(snapshot=snapshot),
             SetSnapshotRefUpdate(snapshot_id=snapshot_id, ref_name=MAIN_BRANCH, type=SnapshotRefType.BRANCH)),
            (AssertRefSnapshotId(snapshot_id=snapshot.parent_snapshot_id, ref=MAIN_BRANCH),))
        expired = _expire(transaction)
    except BaseException:
        delete_files(io, written)
        raise
    return StagedSnapshot(written, expired)


def write_data_files(metadata: Any, io: Any, locations: Any, data: Any, commit_uuid: uuid.UUID,
                     written: list[str]) -> Iterator[Any]:
    """Write ``data`` as Parquet data files of the table; yield their ``DataFile`` entries.

    Columns carry the table's field ids, so readers match them by id, not by position. A file
    holds at most the table's target file size of Arrow data (``write.target-file-size-bytes``).
    """
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import (compute_statistics_plan, data_file_statistics_from_parquet_metadata,
                                      parquet_path_to_id_mapping)
    from pyiceberg.manifest import DataFile, DataFileContent, FileFormat

    if not data.num_rows:
        return
    schema = metadata.schema()
    data = _with_field_ids(data, schema)
    options = compat.parquet_writer_options(metadata.properties)
    row_group = int(metadata.properties.get("write.parquet.row-group-limit", 1_048_576))
    target = int(metadata.properties.get("write.target-file-size-bytes", 512 * 1024 * 1024))
    stats_plan = compute_statistics_plan(schema, metadata.properties)
    id_of_path = parquet_path_to_id_mapping(schema)
    for number, chunk in enumerate(_chunks(data, target)):
        path = locations.new_data_location(f"00000-{number}-{commit_uuid}.parquet")
        written.append(path)
        output = io.new_output(path)
        with output.create(overwrite=True) as stream:
            with pq.ParquetWriter(stream, chunk.schema, store_decimal_as_integer=True, **options) as writer:
                writer.write_table(chunk, row_group_size=row_group)
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=compat.parquet_file_metadata(writer), stats_columns=stats_plan,
            parquet_column_mapping=id_of_path)
        yield DataFile.from_args(content=DataFileContent.DATA, file_path=path,
                                 file_format=FileFormat.PARQUET, partition=_unpartitioned(),
                                 file_size_in_bytes=len(output), sort_order_id=None,
                                 spec_id=metadata.default_spec_id, equality_ids=None,
                                 key_metadata=None, **statistics.to_serialized_dict())


def _with_field_ids(data: Any, schema: Any) -> Any:
    """``data`` with each column tagged with the table's field id for its name.

    Flat columns get the id as field metadata without copying the data; nested ones are cast
    to the table's Arrow type, which carries ids on every child field.
    """
    import pyarrow as pa
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.schema import Schema

    fields = [schema.find_field(name) for name in data.column_names]
    if not any(pa.types.is_nested(field.type) for field in data.schema):
        tagged = pa.schema([column.with_metadata({_FIELD_ID: str(field.field_id)})
                            for column, field in zip(data.schema, fields)])
        return pa.Table.from_arrays(data.columns, schema=tagged)
    return data.cast(schema_to_pyarrow(Schema(*fields), include_field_ids=True))


def _chunks(data: Any, target_bytes: int) -> Iterator[Any]:
    pieces = max(1, -(-data.nbytes // max(1, target_bytes)))
    rows = -(-data.num_rows // pieces)
    for start in range(0, data.num_rows, rows):
        yield data.slice(start, rows)


def _unpartitioned() -> Any:
    from pyiceberg.typedef import Record

    return Record()


def _has_live_files(manifest: Any) -> bool:
    # A manifest whose files were all deleted describes nothing current; pyiceberg carries such
    # manifests forward forever, which made every publish slower than the last.
    counts = (manifest.added_files_count, manifest.existing_files_count)
    return None in counts or sum(counts) > 0


def _summary(operation: Any, added: list[Any], deleted: list[Any], parent: Any, schema: Any,
             spec: Any) -> Any:
    from pyiceberg.table.snapshots import SnapshotSummaryCollector, Summary, update_snapshot_summaries

    collector = SnapshotSummaryCollector()
    for data_file in added:
        collector.add_file(data_file, schema=schema, partition_spec=spec)
    for entry in deleted:
        collector.remove_file(entry.data_file, schema=schema, partition_spec=spec)
    return update_snapshot_summaries(Summary(operation=operation, **collector.build()),
                                     previous_summary=parent.summary if parent else None)


def stage_expiry(transaction: Any) -> list[Any]:
    """Stage, in ``transaction``, the expiry of the snapshots beyond SNAPSHOTS_KEPT (for a
    snapshot pyiceberg staged, a merge); return the expired ones."""
    return _expire(transaction)


def _expire(transaction: Any) -> list[Any]:
    """Stage the expiry of snapshots beyond SNAPSHOTS_KEPT; return the expired ones.

    Run on every publish, this expires one snapshot at a time, so each publish costs the same.
    Snapshots a branch or tag points at are never expired.
    """
    from pyiceberg.table.update import RemoveSnapshotsUpdate

    metadata = transaction.table_metadata
    protected = {ref.snapshot_id for ref in metadata.refs.values()}
    snapshots = sorted(metadata.snapshots, key=_age)
    expired = [snap for snap in snapshots[:-SNAPSHOTS_KEPT] if snap.snapshot_id not in protected]
    if expired:
        compat.stage_updates(transaction, (RemoveSnapshotsUpdate(snapshot_ids=[s.snapshot_id for s in expired]),))
    return expired


def _age(snapshot: Any) -> tuple[int, int]:
    # Sequence numbers order a v2 table's history even across writers whose clocks disagree;
    # v1 tables have none, so their timestamps decide.
    return snapshot.sequence_number or 0, snapshot.timestamp_ms


def unreferenced_files(metadata: Any, expired: Sequence[Any], io: Any) -> list[str]:
    """The files only the ``expired`` snapshots referenced, given the table's new ``metadata``.

    A file is added once and deleted at most once, and expiry removes the oldest snapshots, so
    a file that an expired snapshot used and a kept snapshot still uses is in use by the oldest
    kept snapshot of the branch (or by a snapshot a tag keeps): those are read, not the whole
    history.
    """
    if not expired:
        return []
    newest_expired = max(map(_age, expired))
    kept = sorted(metadata.snapshots, key=_age)
    readers = [snap for snap in kept if _age(snap) < newest_expired]  # kept by a tag or branch
    readers += [snap for snap in kept if _age(snap) > newest_expired][:1]
    kept_manifests = {m.manifest_path: m for snap in readers for m in manifests_of(io, snap)}
    dead = [snap.manifest_list for snap in expired]
    dead_manifests = {}
    for snapshot in expired:
        for manifest in manifests_of(io, snapshot):
            if manifest.manifest_path not in kept_manifests:
                dead_manifests[manifest.manifest_path] = manifest
    dead += dead_manifests
    candidates = {entry.data_file.file_path
                  for manifest in dead_manifests.values() for entry in entries(io, manifest)}
    if candidates:
        candidates -= {entry.data_file.file_path
                       for manifest in kept_manifests.values() for entry in entries(io, manifest)}
    return dead + sorted(candidates)


def delete_files(io: Any, paths: Sequence[str]) -> None:
    """Delete ``paths``; a file that cannot be deleted stays behind (it is unreferenced)."""
    for path in paths:
        try:
            io.delete(path)
        except (OSError, ValueError):
            pass
