"""Publishing query results as Iceberg tables: one atomic snapshot per table per run.

A table's schema follows its model: new columns and widened types evolve the Iceberg schema by
name (field ids and history kept); a change Iceberg cannot express fails naming the model, the
column and both types, and leaves the table as it was.
"""

from __future__ import annotations

import warnings
from typing import Any

from floe.diagnostics import FloeError
from floe.runtime.outcome import TableResult

#: How a model's rows reach its table.
MODES = ("overwrite", "append", "merge")


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
    catalog.create_namespace_if_not_exists(namespace)
    try:
        table = catalog.load_table(identifier)
        created = False
    except NoSuchTableError:
        table = catalog.create_table(identifier, schema=data.schema)
        created = True
    changes = () if created else _evolve(table, data.schema, asset)
    with warnings.catch_warnings():
        # pyiceberg warns when an overwrite's delete matches nothing (an empty table): expected.
        warnings.filterwarnings("ignore", message="Delete operation did not match any records")
        if mode == "merge" and unique_key and not created:
            table.upsert(data, join_cols=list(unique_key))
        elif mode in ("append", "merge") or created:
            table.append(data)
        else:
            table.overwrite(data)
    snapshot = table.current_snapshot()
    return TableResult(asset=asset, table=f"{namespace}.{name}", rows=data.num_rows,
                       snapshot_id=snapshot.snapshot_id if snapshot else 0,
                       mode="create" if created else mode, schema_changes=changes)


def _evolve(table: Any, schema: Any, asset: str) -> tuple[str, ...]:
    from pyiceberg.exceptions import ValidationError

    before = {field.name: str(field.field_type) for field in table.schema().fields}
    try:
        with table.update_schema() as update:
            update.union_by_name(schema)
    except (ValidationError, ValueError) as exc:
        raise FloeError(f"model '{asset}': the table {'.'.join(table.name())} cannot take the new "
                        f"schema: {exc}. Iceberg can add columns and widen types (int → long, "
                        "float → double) but not this; cast the column back in the model or give "
                        "it a new name. The table was left unchanged") from None
    after = {field.name: str(field.field_type) for field in table.schema().fields}
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
