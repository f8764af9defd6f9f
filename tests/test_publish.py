"""Publishing Arrow data as Iceberg tables, against a real SQLite-backed pyiceberg catalog."""

from __future__ import annotations

import weakref
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from floe.builtin.catalog_sqlite import embedded_catalog
from floe.diagnostics import FloeError
from floe.runtime.publish import Publisher, publish, stage_table
from floe.runtime.snapshots import SNAPSHOTS_KEPT


@pytest.fixture(params=["pyiceberg", "embedded"])
def catalog(request, tmp_path):
    """pyiceberg's SqlCatalog, and floe's embedded catalog (which commits on the caller's copy
    of the metadata): publishing must behave the same on both."""
    (tmp_path / "warehouse").mkdir()
    make = SqlCatalog if request.param == "pyiceberg" else embedded_catalog
    return make("test", uri=f"sqlite:///{tmp_path / 'catalog.db'}",
                warehouse=(tmp_path / "warehouse").as_uri())


def rows(catalog, name):
    return sorted(tuple(r.values()) for r in catalog.load_table(name).scan().to_arrow().to_pylist())


def test_every_publish_is_one_snapshot_and_history_stays_bounded(catalog):
    ids = [publish(catalog, "gold", "t", pa.table({"id": [run, run + 1], "name": ["a", "b"]}),
                   asset="t").snapshot_id for run in range(2 * SNAPSHOTS_KEPT + 3)]
    table = catalog.load_table("gold.t")
    history = [entry.snapshot_id for entry in table.history()]
    assert history == ids[-SNAPSHOTS_KEPT:]
    assert len(table.metadata.metadata_log) <= SNAPSHOTS_KEPT
    # One manifest per snapshot; an overwrite records the files it replaced as deleted entries.
    snapshot = table.current_snapshot()
    [manifest] = snapshot.manifests(table.io)
    entries = manifest.fetch_manifest_entry(table.io, discard_deleted=False)
    assert sorted(e.status.name for e in entries) == ["ADDED", "DELETED"]
    assert snapshot.summary.operation.value == "overwrite"
    assert snapshot.summary["deleted-data-files"] == "1" and snapshot.summary["total-records"] == "2"
    # Files only expired snapshots used are deleted: one data file, one manifest and one
    # manifest list per kept snapshot remain.
    location = Path(table.location().removeprefix("file://"))
    assert len(list((location / "data").glob("*.parquet"))) == SNAPSHOTS_KEPT
    assert len(list((location / "metadata").glob("*.avro"))) == 2 * SNAPSHOTS_KEPT
    assert rows(catalog, "gold.t") == [(2 * SNAPSHOTS_KEPT + 2, "a"), (2 * SNAPSHOTS_KEPT + 3, "b")]
    # Time travel to the oldest kept snapshot still reads its own rows.
    oldest = table.scan(snapshot_id=history[0]).to_arrow().to_pylist()
    assert sorted(r["id"] for r in oldest) == [SNAPSHOTS_KEPT + 3, SNAPSHOTS_KEPT + 4]


def test_appends_keep_every_live_file_while_old_snapshots_expire(catalog):
    for run in range(SNAPSHOTS_KEPT + 5):
        publish(catalog, "bronze", "events", pa.table({"id": [run]}), asset="events",
                mode="overwrite" if run == 0 else "append")
    assert rows(catalog, "bronze.events") == [(run,) for run in range(SNAPSHOTS_KEPT + 5)]
    table = catalog.load_table("bronze.events")
    assert len(table.history()) == SNAPSHOTS_KEPT
    location = Path(table.location().removeprefix("file://"))
    assert len(list((location / "data").glob("*.parquet"))) == SNAPSHOTS_KEPT + 5


def test_data_files_carry_field_ids_so_a_renamed_column_keeps_its_values(catalog):
    publish(catalog, "gold", "t", pa.table({"id": [1, 2], "amount": [1.5, 2.5]}), asset="t")
    with catalog.load_table("gold.t").update_schema() as update:
        update.rename_column("amount", "total")
    assert rows(catalog, "gold.t") == [(1, 1.5), (2, 2.5)]


def test_a_concurrent_commit_fails_the_publish_and_leaves_no_file_behind(catalog):
    publish(catalog, "gold", "t", pa.table({"id": [1]}), asset="t")

    class RacingCatalog:
        """Another writer commits between floe loading the table and committing to it."""

        def __getattr__(self, name):
            return getattr(catalog, name)

        def load_table(self, identifier):
            table = catalog.load_table(identifier)
            publish(catalog, "gold", "t", pa.table({"id": [2]}), asset="t")
            return table

    with pytest.raises(FloeError, match="changed by another writer"):
        publish(RacingCatalog(), "gold", "t", pa.table({"id": [3]}), asset="t")
    table = catalog.load_table("gold.t")
    assert rows(catalog, "gold.t") == [(2,)]
    location = Path(table.location().removeprefix("file://"))
    assert len(list((location / "data").glob("*.parquet"))) == 2  # the two committed runs'


def test_widening_and_new_columns_evolve_the_schema_by_name(catalog):
    publish(catalog, "gold", "t", pa.table({"id": pa.array([1], pa.int32()), "x": [1.5]}), asset="t")
    ids = {f.name: f.field_id for f in catalog.load_table("gold.t").schema().fields}
    result = publish(catalog, "gold", "t", pa.table({"id": pa.array([2], pa.int64()), "x": [2.5],
                                                     "extra": ["new"]}), asset="t")
    schema = catalog.load_table("gold.t").schema()
    assert [(f.name, str(f.field_type)) for f in schema.fields] == [("id", "long"), ("x", "double"),
                                                                     ("extra", "string")]
    assert {name: schema.find_field(name).field_id for name in ids} == ids
    assert result.schema_changes == ("added extra string", "widened id int → long")


def test_an_impossible_type_change_names_model_column_and_types_and_changes_nothing(catalog):
    first = publish(catalog, "gold", "t", pa.table({"id": [1], "amount": [10]}), asset="orders")
    with pytest.raises(FloeError) as caught:
        publish(catalog, "gold", "t", pa.table({"id": [1], "amount": ["ten"]}), asset="orders")
    message = str(caught.value)
    assert "model 'orders'" in message and "amount: long -> string" in message
    table = catalog.load_table("gold.t")
    assert table.current_snapshot().snapshot_id == first.snapshot_id
    assert [str(f.field_type) for f in table.schema().fields] == ["long", "long"]


def test_append_adds_rows_and_merge_upserts_on_the_unique_key(catalog):
    publish(catalog, "gold", "t", pa.table({"id": [1, 2], "v": ["a", "b"]}), asset="t")
    publish(catalog, "gold", "t", pa.table({"id": [3], "v": ["c"]}), asset="t", mode="append")
    assert rows(catalog, "gold.t") == [(1, "a"), (2, "b"), (3, "c")]
    publish(catalog, "gold", "t", pa.table({"id": [2, 4], "v": ["B", "d"]}), asset="t", mode="merge",
            unique_key=["id"])
    assert rows(catalog, "gold.t") == [(1, "a"), (2, "B"), (3, "c"), (4, "d")]


def test_merges_keep_the_history_bounded_too(catalog):
    publish(catalog, "gold", "t", pa.table({"id": [1, 2], "v": ["a", "b"]}), asset="t")
    for run in range(SNAPSHOTS_KEPT + 2):
        publish(catalog, "gold", "t", pa.table({"id": [2, 10 + run], "v": [f"b{run}", "n"]}), asset="t",
                mode="merge", unique_key=["id"])
    table = catalog.load_table("gold.t")
    assert len(table.history()) == SNAPSHOTS_KEPT
    assert rows(catalog, "gold.t")[:2] == [(1, "a"), (2, f"b{SNAPSHOTS_KEPT + 1}")]
    assert len(rows(catalog, "gold.t")) == 2 + SNAPSHOTS_KEPT + 2
    # Only files some kept snapshot still uses stay on disk.
    live = {task.file.file_path.removeprefix("file://") for snapshot in table.snapshots()
            for task in table.scan(snapshot_id=snapshot.snapshot_id).plan_files()}
    location = Path(table.location().removeprefix("file://"))
    assert {str(p) for p in (location / "data").glob("*.parquet")} == live


def test_unsigned_integers_are_widened_to_types_iceberg_has(catalog):
    publish(catalog, "gold", "t", pa.table({"n": pa.array([1, 2], pa.uint32())}), asset="t")
    assert [str(f.field_type) for f in catalog.load_table("gold.t").schema().fields] == ["long"]


def test_a_table_that_cannot_take_its_schema_stops_every_table_of_the_run(catalog):
    first = {name: publish(catalog, "gold", name, pa.table({"id": [1], "amount": [10]}), asset=name)
             for name in ("a", "b")}
    publisher = Publisher(catalog)
    publisher.submit("a", lambda: stage_table(catalog, "gold", "a", pa.table({"id": [2], "amount": [20]}),
                                        asset="a"))
    publisher.submit("b", lambda: stage_table(catalog, "gold", "b", pa.table({"id": [2], "amount": ["x"]}),
                                        asset="b"))
    with pytest.raises(FloeError, match="model 'b'"):
        publisher.commit()
    for name in ("a", "b"):
        table = catalog.load_table(f"gold.{name}")
        assert table.current_snapshot().snapshot_id == first[name].snapshot_id
        # What staging wrote for 'a' was deleted: one data file, the first run's.
        location = Path(table.location().removeprefix("file://"))
        assert len(list((location / "data").glob("*.parquet"))) == 1
    assert rows(catalog, "gold.a") == [(1, 10)]


def test_duckdbs_iceberg_reader_reads_what_floe_committed(catalog):
    # floe writes manifests and manifest lists itself; a reader that is not pyiceberg must agree.
    import duckdb
    import duckdb_extensions

    for run in range(SNAPSHOTS_KEPT + 2):
        publish(catalog, "gold", "t", pa.table({"id": [run, run + 1], "name": ["a", "b"]}), asset="t")
    publish(catalog, "gold", "t", pa.table({"id": [100], "name": ["z"]}), asset="t", mode="append")
    table = catalog.load_table("gold.t")
    with duckdb.connect() as con:
        for extension in ("avro", "iceberg"):
            duckdb_extensions.import_extension(extension, con=con)
        read = con.sql(f"select id, name from iceberg_scan('{table.metadata_location}') order by id")
        assert read.fetchall() == [(SNAPSHOTS_KEPT + 1, "a"), (SNAPSHOTS_KEPT + 2, "b"), (100, "z")]


def test_a_format_version_1_table_made_elsewhere_takes_floes_snapshots(catalog):
    catalog.create_namespace("gold")
    catalog.create_table("gold.t", schema=pa.schema([("id", pa.int64())]), properties={"format-version": "1"})
    for run in range(SNAPSHOTS_KEPT + 2):
        publish(catalog, "gold", "t", pa.table({"id": [run]}), asset="t")
    publish(catalog, "gold", "t", pa.table({"id": [99]}), asset="t", mode="append")
    table = catalog.load_table("gold.t")
    assert table.format_version == 1
    assert rows(catalog, "gold.t") == [(SNAPSHOTS_KEPT + 1,), (99,)]
    assert len(table.history()) == SNAPSHOTS_KEPT


def test_nested_columns_round_trip_with_ids_on_every_child(catalog):
    data = pa.table({"id": [1, 2], "tags": [["a", "b"], []],
                     "address": [{"city": "x", "zip": 1}, {"city": "y", "zip": None}],
                     "attrs": pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64()))})
    publish(catalog, "gold", "t", data, asset="t")
    publish(catalog, "gold", "t", data, asset="t")
    table = catalog.load_table("gold.t")
    with table.update_schema() as update:  # readers must match the children by id, not name
        update.rename_column("address.city", "town")
    read = sorted(table.refresh().scan().to_arrow().to_pylist(), key=lambda row: row["id"])
    assert read[0] == {"id": 1, "tags": ["a", "b"], "address": {"town": "x", "zip": 1}, "attrs": [("k", 1)]}
    assert read[1]["address"] == {"town": "y", "zip": None} and read[1]["tags"] == []


def test_staging_writes_every_table_before_the_commit_and_keeps_no_rows(catalog):
    publish(catalog, "gold", "old", pa.table({"id": [1]}), asset="old")
    reads = []

    def source(name, values):
        def read():
            reads.append(name)
            table = pa.table({"id": values})
            kept.append(weakref.ref(table))
            return table
        return read

    kept = []
    publisher = Publisher(catalog)
    publisher.submit("old", lambda: stage_table(catalog, "gold", "old", source("old", [2, 3]), asset="old"))
    publisher.submit("new", lambda: stage_table(catalog, "gold", "new", source("new", [4]), asset="new"))
    staged = publisher._wait()  # noqa: SLF001 - the state between staging and commit
    # Both tables were read and written to files, and their rows were let go; the catalog
    # has not changed: the new table does not exist yet, the old one has its old rows.
    assert sorted(reads) == ["new", "old"] and all(ref() is None for ref in kept)
    assert not catalog.table_exists("gold.new") and rows(catalog, "gold.old") == [(1,)]
    results = publisher.commit()
    assert set(staged) == set(results) == {"old", "new"}
    assert results["new"].mode == "create" and results["old"].rows == 2
    assert rows(catalog, "gold.new") == [(4,)] and rows(catalog, "gold.old") == [(2,), (3,)]


def test_a_staged_merge_that_is_discarded_leaves_no_file_behind(catalog):
    publish(catalog, "gold", "m", pa.table({"id": [1, 2], "v": ["a", "b"]}), asset="m")
    location = Path(catalog.load_table("gold.m").location().removeprefix("file://"))
    before = sorted(location.rglob("*"))
    staged = stage_table(catalog, "gold", "m", pa.table({"id": [2, 3], "v": ["B", "c"]}), asset="m",
                         mode="merge", unique_key=["id"])
    assert staged.written, "pyiceberg's upsert wrote files for the merge"
    staged.discard()
    assert sorted(location.rglob("*")) == before
    assert rows(catalog, "gold.m") == [(1, "a"), (2, "b")]
