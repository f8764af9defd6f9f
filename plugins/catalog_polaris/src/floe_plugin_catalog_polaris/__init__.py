"""floe catalog plugin ``polaris``: an Apache Polaris Iceberg REST catalog.

Selected in platform.yaml with ``catalogs: {default: {type: polaris, uri: ..., warehouse: ...}}``
and an ``oauth2`` credentials block. This distribution registers it under floe's catalog
entry-point group::

    [project.entry-points."floe.catalog"]
    polaris = "floe_plugin_catalog_polaris.plugin"

Only compile-time code lives here; pyiceberg is imported by run time, never at compile.
"""
