"""A dbt-duckdb plugin that keeps DuckDB's S3 secret on the run's current, refreshed keys.

A DuckDB secret holds fixed keys. Keys from STS (credentials modes ``iam_role`` and
``service_account``) expire, so a secret written once into the dbt profile would stop working
in a long run. dbt-duckdb calls a plugin's ``configure_connection`` when it opens the database
and ``configure_cursor`` for every dbt connection it hands out (each node gets one); this plugin
then asks floe's credential provider for the current keys and, when the provider has refreshed
them, replaces the secret (``CREATE OR REPLACE SECRET``: every cursor of the database sees it).
A single statement that runs for longer than the refresh margin keeps the keys it started with.

Keys never enter the profile: its plugin config carries only a handle to the provider, which
means something only inside the run's process (see :mod:`floe.runtime.live_keys`), and the
secret is DuckDB's default temporary kind, held in memory.
"""

from __future__ import annotations

import threading
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from floe.diagnostics import FloeError

#: The DuckDB secret this plugin owns.
SECRET_NAME = "floe_s3"


class Plugin(BasePlugin):
    """Creates the ``floe_s3`` secret and replaces it whenever the provider's keys change.

    Config (written by floe into the dbt profile): ``handle`` (the provider's handle),
    ``endpoint`` (host[:port], optional), ``use_ssl``, ``region`` (optional), ``url_style``.
    """

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Keep the secret's fixed parts and the provider's handle."""
        self._config = dict(plugin_config)
        self._keys: Any = None
        self._lock = threading.Lock()

    def configure_connection(self, conn: Any) -> None:
        """Create the secret when dbt-duckdb opens the database."""
        self._follow_keys(conn)

    def configure_cursor(self, cursor: Any) -> None:
        """Replace the secret before a node runs, when the keys were refreshed since."""
        self._follow_keys(cursor)

    def _follow_keys(self, cursor: Any) -> None:
        from floe.runtime import live_keys

        keys = live_keys.current_keys(self._config["handle"])
        if keys is None:
            raise FloeError("the DuckDB S3 secret follows the keys of a running floe run, and "
                            "none is running in this process; run dbt through `floe run`")
        with self._lock:
            if keys is self._keys:
                return
            try:
                cursor.execute(secret_sql(self._config, keys))
            except Exception as exc:  # noqa: BLE001 - DuckDB's message, with the keys masked
                from floe.runtime.scrub import scrub

                # The keys are SecretValues of this process: scrub masks them in DuckDB's words.
                raise FloeError(f"DuckDB refused the S3 secret of this run: {scrub(str(exc))}") from None
            self._keys = keys


def secret_sql(config: dict[str, Any], keys: Any) -> str:
    """``CREATE OR REPLACE SECRET floe_s3 (...)`` for ``keys`` and the storage's endpoint."""
    key_id = keys.access_key_id if isinstance(keys.access_key_id, str) else keys.access_key_id.reveal()
    options = {"KEY_ID": key_id, "SECRET": keys.secret_access_key.reveal(),
               "URL_STYLE": config.get("url_style", "vhost")}
    if keys.session_token is not None:
        options["SESSION_TOKEN"] = keys.session_token.reveal()
    if config.get("region"):
        options["REGION"] = config["region"]
    if config.get("endpoint"):
        options["ENDPOINT"] = config["endpoint"]
        options["USE_SSL"] = bool(config.get("use_ssl", True))
    body = ", ".join(f"{name} {_literal(value)}" for name, value in options.items())
    return f"CREATE OR REPLACE SECRET {SECRET_NAME} (TYPE s3, {body})"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + str(value).replace("'", "''") + "'"
