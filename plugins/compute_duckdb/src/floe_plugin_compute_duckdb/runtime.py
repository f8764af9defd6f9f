"""Run-time half of the duckdb compute plugin: the dbt target and reading dbt's results.

Imported only by ``floe run``; it may import DuckDB and dbt-duckdb.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow

    from floe.runtime import RunContext

#: dbt-duckdb plugin (below) that loads extensions from their PyPI wheels.
EXTENSION_PLUGIN = "floe_plugin_compute_duckdb.dbt_extensions"


def dbt_output(config: dict, context: "RunContext") -> dict:
    """The dbt-duckdb target: the database path made absolute, extensions loaded from wheels.

    dbt-duckdb's own ``extensions:`` runs ``INSTALL``, which downloads from DuckDB's server;
    floe's dbt-duckdb plugin loads the same extensions from the ``duckdb-extension-*`` wheels.
    """
    output = dict(config["dbt_profile"])
    database = context.path(output["path"])
    database.parent.mkdir(parents=True, exist_ok=True)
    output["path"] = str(database)
    extensions = output.pop("extensions", [])
    settings = dict(output.get("settings", {}))
    settings.setdefault("autoinstall_known_extensions", False)
    settings.setdefault("autoload_known_extensions", False)
    output["settings"] = settings
    if extensions:
        output["plugins"] = [{"module": EXTENSION_PLUGIN, "config": {"extensions": extensions}}]
    return output


class DuckdbReader:
    """Reads the tables dbt built, once dbt has let go of the database file."""

    def __init__(self, database: str):
        import duckdb

        _release_dbt_connections()
        # Read-only: a second process (say, `floe dev`'s UI) may read too, and nothing here writes.
        self._con = duckdb.connect(database, read_only=True)

    def read(self, schema: str, identifier: str, offset: int = 0) -> "pyarrow.Table":
        """The relation ``schema.identifier`` as an Arrow table, from row ``offset`` on."""
        # A cursor per read: a DuckDB connection must not be shared by the publishing threads.
        relation = self._con.cursor().table(f'"{schema}"."{identifier}"')
        if offset:
            relation = relation.limit(2**62, offset)
        return relation.to_arrow_table()

    def count(self, schema: str, identifier: str) -> int:
        """How many rows the relation holds."""
        return self._con.cursor().table(f'"{schema}"."{identifier}"').count("*").fetchone()[0]

    def close(self) -> None:
        """Release the database file."""
        self._con.close()


def reader(config: dict, context: "RunContext") -> DuckdbReader:
    """A reader over the product's DuckDB database."""
    return DuckdbReader(str(context.path(config["dbt_profile"]["path"])))


def _release_dbt_connections() -> None:
    # In-process dbt-duckdb keeps one process-wide handle on the database file; DuckDB refuses a
    # second handle with other settings, so close it before opening ours.
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt not loaded in this process: nothing to release
        return
    DuckDBConnectionManager.close_all_connections()


