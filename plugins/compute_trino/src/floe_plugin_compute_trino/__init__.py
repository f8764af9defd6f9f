"""floe compute plugin ``trino``: dbt-trino on a Trino cluster whose Iceberg connector writes
the product's tables straight into the platform's catalog.

Compile time (:mod:`.plugin`) imports neither dbt nor the Trino client.
"""

__version__ = "0.1.0"
