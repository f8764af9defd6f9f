"""A product's embedded catalog keeps working after the product is copied or moved.

Iceberg records absolute locations: the catalog database points at metadata files, which
point at manifest lists, manifests and data files, all by absolute URI. A product copied with
``cp -a a b`` would therefore read and *write* the tables of ``a``, and a moved product would
look for its files where they no longer are.

The catalog database remembers every product directory it has been used from (a small table of
its own, copied along with the file). When it is opened from a directory it has not seen, the
tables were written elsewhere: pyiceberg is then given :class:`RelocatedFileIO`, which reads and
writes every location under a previous product directory under the current one instead. The
recorded locations stay as Iceberg wrote them; only the place files are read from and written
to moves, so a copy never touches the original and a moved product finds its files.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

#: The table in the catalog database that lists the product directories it was used from.
ROOTS_TABLE = "floe_product_roots"
#: pyiceberg's property naming the FileIO class to load.
PY_IO_IMPL = "py-io-impl"
#: The property that carries the prefix mapping to :class:`RelocatedFileIO`.
MAPPING_PROPERTY = "floe.relocated-from"


def relocation(database: Path, product_dir: Path, warehouse: str) -> dict[str, str]:
    """Record ``product_dir`` in the catalog ``database``; return the location prefixes to move.

    :param warehouse: the storage's warehouse URI in this run (``file:///.../.floe/warehouse``).
    :returns: ``{old prefix: new prefix}`` for every other product directory the database was
        used from (empty when it was only ever used from here), as ``file://`` URIs and plain
        paths, each ending in ``/``.
    """
    here = _root(product_dir)
    # closing(): a sqlite3 connection's own `with` commits but does not close.
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as con:
        with con:
            known = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (ROOTS_TABLE,)).fetchone()
            con.execute(f"CREATE TABLE IF NOT EXISTS {ROOTS_TABLE} (root TEXT PRIMARY KEY)")
            if not known:
                # A catalog written before floe recorded its roots: learn them from its tables.
                for root in _roots_of_tables(con, here, warehouse):
                    con.execute(f"INSERT OR IGNORE INTO {ROOTS_TABLE} (root) VALUES (?)", (root,))
            roots = [row[0] for row in con.execute(f"SELECT root FROM {ROOTS_TABLE}")]
            if here not in roots:
                con.execute(f"INSERT INTO {ROOTS_TABLE} (root) VALUES (?)", (here,))
    mapping: dict[str, str] = {}
    for old in roots:
        if old != here:
            mapping[Path(old).as_uri() + "/"] = Path(here).as_uri() + "/"
            mapping[old + "/"] = here + "/"
    return mapping


def catalog_properties(mapping: dict[str, str], properties: dict[str, str]) -> dict[str, str]:
    """``properties`` plus what makes pyiceberg use :class:`RelocatedFileIO` for ``mapping``.

    Left unchanged when nothing moved, or when the storage already chose its own FileIO.
    """
    if not mapping or PY_IO_IMPL in properties:
        return properties
    return {**properties, PY_IO_IMPL: f"{__name__}.RelocatedFileIO",
            MAPPING_PROPERTY: json.dumps(mapping, sort_keys=True)}


def moved(location: str, mapping: dict[str, str]) -> str:
    """``location`` with the first matching old prefix replaced by its new one."""
    for old, new in mapping.items():
        if location.startswith(old):
            return new + location[len(old):]
    return location


def _roots_of_tables(con: sqlite3.Connection, here: str, warehouse: str) -> set[str]:
    """Product directories the tables' metadata files lie in, judged by the warehouse's place
    inside the product (``.floe/warehouse``); none when the warehouse is not in the product."""
    inside = Path(here).as_uri() + "/"
    if not warehouse.startswith(inside):
        return set()
    marker = "/" + warehouse[len(inside):].strip("/") + "/"
    try:
        rows = con.execute("SELECT metadata_location FROM iceberg_tables").fetchall()
    except sqlite3.Error:
        return set()  # no tables yet
    roots = set()
    for (location,) in rows:
        if isinstance(location, str) and location.startswith("file://") and marker in location:
            uri = location[: location.index(marker)]
            roots.add(_path_of(uri))
    return roots


def _path_of(uri: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(uri).path)


def _root(product_dir: Path) -> str:
    return os.path.realpath(product_dir)


def _file_io_class() -> type:
    from pyiceberg.io.pyarrow import PyArrowFileIO

    class _RelocatedFileIO(PyArrowFileIO):
        """pyiceberg's Arrow FileIO, reading and writing old product locations at the new one."""

        def __init__(self, properties: Any = None):
            properties = dict(properties or {})
            self._mapping = json.loads(properties.get(MAPPING_PROPERTY) or "{}")
            super().__init__(properties)

        def new_input(self, location: str) -> Any:
            return super().new_input(moved(location, self._mapping))

        def new_output(self, location: str) -> Any:
            return super().new_output(moved(location, self._mapping))

        def delete(self, location: Any) -> None:
            if isinstance(location, str):
                location = moved(location, self._mapping)
            super().delete(location)

    # Named as the module exposes it, so pickle (pyiceberg copies FileIOs that way) finds it.
    _RelocatedFileIO.__name__ = _RelocatedFileIO.__qualname__ = "RelocatedFileIO"
    return _RelocatedFileIO


def __getattr__(name: str) -> Any:
    # pyiceberg loads the class by its dotted name; building it on first access keeps pyiceberg
    # out of every process that only validates or compiles.
    if name == "RelocatedFileIO":
        cls = _file_io_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
