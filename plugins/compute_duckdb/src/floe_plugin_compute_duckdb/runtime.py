"""Run-time half of the duckdb compute plugin: the dbt target and reading dbt's results.

Imported only by ``floe run``; it may import DuckDB and dbt-duckdb.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow

    from floe.runtime import RunContext

def dbt_output(config: dict, context: "RunContext") -> dict:
    """The dbt-duckdb target: the database path made absolute, extensions from their wheels,
    and an S3 secret when the product's storage is S3.

    dbt-duckdb's ``extensions:`` runs ``INSTALL``, which would download from DuckDB's server;
    floe first installs each extension from its ``duckdb-extension-*`` wheel, so dbt-duckdb's
    ``INSTALL`` finds it in place and only loads it (before it creates secrets, which need it).
    """
    output = dict(config["dbt_profile"])
    database = context.path(output["path"])
    database.parent.mkdir(parents=True, exist_ok=True)
    output["path"] = str(database)
    extensions = list(output.pop("extensions", []))
    refreshing = s3_keys_plugin(context)
    # Expiring keys: the plugin keeps the secret current; no fixed secret in the profile.
    secret = s3_secret(context) if refreshing is None and not keys_vended_per_table(context) else None
    if (secret is not None or refreshing is not None) and "httpfs" not in extensions:
        extensions.append("httpfs")
    install_from_wheels(extensions)
    settings = dict(output.get("settings", {}))
    settings.setdefault("autoinstall_known_extensions", False)
    settings.setdefault("autoload_known_extensions", False)
    output["settings"] = settings
    if extensions:
        output["extensions"] = extensions
    if secret is not None:
        output["secrets"] = [secret]
    if refreshing is not None:
        output["plugins"] = [*output.get("plugins", []), refreshing]
    return output


def keys_vended_per_table(context: "RunContext") -> bool:
    """True when the catalog vends the storage keys with each table (``vended_credentials``).

    Those keys reach pyiceberg with each table the catalog loads; DuckDB never talks to the
    catalog and has no keys of its own, so it gets no S3 secret (a credential-chain secret
    would need DuckDB's ``aws`` extension and find nothing to use).
    """
    credentials = context.artifacts.profiles.storage.config.get("credentials") or {}
    return credentials.get("mode") == "vended_credentials"


def s3_keys_plugin(context: "RunContext") -> dict | None:
    """The dbt-duckdb plugin entry that keeps DuckDB's S3 secret on refreshed keys, or None.

    Only for storage whose keys expire: its connection properties then carry a handle to the
    run's credential provider (static keys need no refresh; vended keys come per table from the
    catalog, which DuckDB does not talk to). The entry holds the handle, never a key.
    """
    from floe.runtime import live_keys

    if context.artifacts.profiles.storage.type != "s3":
        return None
    properties = context.storage.get("properties", {})
    handle = properties.get(live_keys.HANDLE_PROPERTY)
    if not handle:
        return None
    config: dict = {"handle": handle, "url_style": "vhost" if properties.get(
        "s3.force-virtual-addressing", "true") == "true" else "path"}
    if properties.get("s3.region"):
        config["region"] = properties["s3.region"]
    if properties.get("s3.endpoint"):
        scheme, _, host = properties["s3.endpoint"].partition("://")
        config["endpoint"] = host.rstrip("/")
        config["use_ssl"] = scheme == "https"
    return {"module": "floe_plugin_compute_duckdb.s3_keys", "config": config}


def install_from_wheels(extensions: list[str]) -> None:
    """Install DuckDB extensions from their PyPI wheels into DuckDB's extension directory."""
    if not extensions:
        return
    import duckdb
    import duckdb_extensions

    with duckdb.connect(":memory:") as con:
        for name in extensions:
            duckdb_extensions.import_extension(name, con=con)


def s3_secret(context: "RunContext") -> dict | None:
    """A DuckDB S3 secret for the product's S3 storage, so models can read and write it.

    Keys stay secret references: run time writes them as ``env_var()`` calls, values only in
    the environment while dbt runs. Without static keys DuckDB uses the AWS credential chain.
    """
    # The storage plugin says what an engine needs (Iceberg FileIO property names); this plugin
    # never reads the storage plugin's own configuration.
    storage = context.engine_storage_properties()
    if not str(storage.get("warehouse", "")).startswith("s3://"):
        return None
    path_style = storage.get("s3.path-style-access") == "true"
    secret: dict = {"type": "s3", "url_style": "path" if path_style else "vhost"}
    if storage.get("s3.region"):
        secret["region"] = storage["s3.region"]
    if storage.get("s3.endpoint"):
        scheme, _, host = storage["s3.endpoint"].partition("://")
        secret["endpoint"] = host.rstrip("/")
        secret["use_ssl"] = scheme == "https"
    if "s3.secret-access-key" in storage:
        secret["key_id"] = storage["s3.access-key-id"]
        secret["secret"] = storage["s3.secret-access-key"]
        if storage.get("s3.session-token"):
            secret["session_token"] = storage["s3.session-token"]
    else:
        secret["provider"] = "credential_chain"
    return secret


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


