"""floe compute plugin ``duckdb``: dbt runs on an embedded DuckDB database file.

Selected in platform.yaml with ``compute: {default: {type: duckdb}}``. This distribution
registers it under floe's compute entry-point group::

    [project.entry-points."floe.compute"]
    duckdb = "floe_plugin_compute_duckdb.plugin"

Only compile-time code lives here; DuckDB itself is imported by run time, never at compile.
"""
