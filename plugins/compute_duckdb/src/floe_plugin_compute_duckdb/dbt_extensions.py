"""A dbt-duckdb plugin that loads DuckDB extensions from their PyPI wheels.

These machines (and many production networks) cannot reach DuckDB's extension server, so
``INSTALL iceberg`` fails; the ``duckdb-extension-<name>`` wheels carry the same binaries.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin


class Plugin(BasePlugin):
    """Configured by floe with ``{"extensions": [...]}``."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.extensions = list(plugin_config.get("extensions", []))

    def configure_connection(self, conn: Any) -> None:
        import duckdb_extensions

        for name in self.extensions:
            # import_extension only INSTALLs the wheel's file; loading is a separate step.
            duckdb_extensions.import_extension(name, con=conn)
            conn.execute(f"LOAD {name}")
