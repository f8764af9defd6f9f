"""Publishing Arrow data as Iceberg tables, against a real SQLite-backed pyiceberg catalog."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from floe.diagnostics import FloeError
from floe.runtime.publish import EXPIRE_BATCH, SNAPSHOTS_KEPT, publish


@pytest.fixture
def catalog(tmp_path):
    (tmp_path / "warehouse").mkdir()
    return SqlCatalog("test", uri=f"sqlite:///{tmp_path / 'catalog.db'}",
                      warehouse=(tmp_path / "warehouse").as_uri())


def rows(catalog, name):
    return sorted(tuple(r.values()) for r in catalog.load_table(name).scan().to_arrow().to_pylist())


def test_every_publish_is_one_snapshot_and_history_stays_bounded(catalog):
    data = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})
    ids = [publish(catalog, "gold", "t", data, asset="t").snapshot_id
           for _ in range(3 * (SNAPSHOTS_KEPT + EXPIRE_BATCH))]
    table = catalog.load_table("gold.t")
    history = [entry.snapshot_id for entry in table.history()]
    assert history == ids[-len(history):]
    assert SNAPSHOTS_KEPT <= len(history) <= SNAPSHOTS_KEPT + EXPIRE_BATCH
    assert len(table.metadata.metadata_log) <= SNAPSHOTS_KEPT
    # Manifests of earlier overwrites are not carried forward: the cost of a publish stays flat.
    assert len(table.current_snapshot().manifests(table.io)) <= 2
    # Files only expired snapshots used are deleted: one data file per kept snapshot remains.
    location = Path(table.location().removeprefix("file://"))
    assert len(list((location / "data").glob("*.parquet"))) == len(history)
    assert rows(catalog, "gold.t") == [(1, "a"), (2, "b"), (3, "c")]


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


def test_unsigned_integers_are_widened_to_types_iceberg_has(catalog):
    publish(catalog, "gold", "t", pa.table({"n": pa.array([1, 2], pa.uint32())}), asset="t")
    assert [str(f.field_type) for f in catalog.load_table("gold.t").schema().fields] == ["long"]
