"""The dbt-duckdb plugin that keeps DuckDB's S3 secret on the run's refreshed keys.

Runs the plugin on a real in-memory DuckDB with the httpfs extension from its wheel; the
provider is a small stand-in whose keys the test changes (the end-to-end proof against STS is
tests/test_credential_refresh.py).
"""

from __future__ import annotations

import duckdb
import duckdb_extensions
import pytest
from floe_plugin_compute_duckdb.s3_keys import Plugin, secret_sql

from floe.diagnostics import FloeError
from floe.runtime import live_keys
from floe.runtime.credentials import AwsCredentials
from floe.runtime.secrets import SecretValue


class Provider:
    def __init__(self, key_id: str):
        self.keys = self.make(key_id)

    @staticmethod
    def make(key_id: str) -> AwsCredentials:
        return AwsCredentials(access_key_id=key_id, secret_access_key=SecretValue(f"secret-of-{key_id}"),
                              session_token=SecretValue(f"token-of-{key_id}"))

    def credentials(self) -> AwsCredentials:
        return self.keys


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                                    "autoload_known_extensions": False})
    duckdb_extensions.import_extension("httpfs", con=connection)
    connection.load_extension("httpfs")
    yield connection
    connection.close()


def _secret_key_id(con) -> str:
    (secret,) = con.execute("select secret_string from duckdb_secrets() where name = 'floe_s3'").fetchone()
    return next(part.split("=", 1)[1] for part in secret.split(";") if part.startswith("key_id="))


def test_the_secret_is_created_and_replaced_only_when_the_keys_change(con):
    provider = Provider("ASIAFIRST")
    plugin = Plugin("s3_keys", {"handle": live_keys.register(provider), "endpoint": "127.0.0.1:9000",
                                "use_ssl": False, "region": "us-east-1", "url_style": "path"})
    plugin.configure_connection(con)
    assert _secret_key_id(con) == "ASIAFIRST"
    cursor = con.cursor()

    class Counting:
        """The cursor, counting the statements the plugin sends through it."""

        sent = 0

        def execute(self, sql):
            Counting.sent += 1
            return cursor.execute(sql)

    plugin.configure_cursor(Counting())
    assert Counting.sent == 0  # the same keys: no statement at all before the node
    assert _secret_key_id(con) == "ASIAFIRST"
    provider.keys = Provider.make("ASIASECOND")
    plugin.configure_cursor(con.cursor())
    # Replaced for the whole database, the cursor opened before included.
    assert _secret_key_id(cursor) == "ASIASECOND"
    # DuckDB keeps the secret in memory only (a temporary secret), never in the database file.
    assert con.execute("select persistent from duckdb_secrets() where name = 'floe_s3'").fetchone() == (False,)


def test_values_are_quoted_as_sql_literals():
    keys = AwsCredentials(access_key_id="AKIA'X", secret_access_key=SecretValue("s'ecret"))
    sql = secret_sql({"url_style": "vhost"}, keys)
    assert sql == ("CREATE OR REPLACE SECRET floe_s3 (TYPE s3, KEY_ID 'AKIA''X', SECRET 's''ecret', "
                   "URL_STYLE 'vhost')")


def test_outside_a_run_the_plugin_says_it_needs_floe_run(con):
    plugin = Plugin("s3_keys", {"handle": "keys-of-no-run"})
    with pytest.raises(FloeError, match="run dbt through `floe run`"):
        plugin.configure_connection(con)
