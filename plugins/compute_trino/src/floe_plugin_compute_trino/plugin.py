"""Compute ``trino``: dbt-trino on a Trino cluster; the engine writes the Iceberg tables.

The profile resolves at compile time to a dbt-trino target. At run time dbt builds on Trino,
whose Iceberg connector (the Trino catalog named by ``catalog``) must point at the platform's
catalog profile: each table model is created by Trino in the namespace of its layer, so floe
reads nothing back and publishes nothing itself.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

import attrs

from floe.plugins import ResolveContext, hookimpl
from floe.schema.structure import Invalid, field_check

#: Trino identifiers floe writes unquoted into the target (catalog, schema, property names).
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
#: Credential modes a Trino profile accepts, with the dbt-trino method each becomes.
METHODS = {"password": "ldap", "jwt": "jwt"}


@field_check
def _host(value: str) -> None:
    if not _HOST.fullmatch(value):
        raise Invalid(f"'{value}' is not a host name: write the coordinator's name or address "
                      "without scheme or port, e.g. trino.example.com")


@field_check
def _port(value: int) -> None:
    if not 1 <= value <= 65535:
        raise Invalid(f"port must be between 1 and 65535, got {value}")


@field_check
def _threads(value: int) -> None:
    if value < 1:
        raise Invalid(f"threads must be at least 1, got {value}")


@field_check
def _identifier(value: str) -> None:
    if not _IDENTIFIER.fullmatch(value):
        raise Invalid(f"'{value}' is not a Trino name floe can use: lowercase letters, digits and "
                      "'_', starting with a letter or '_', e.g. iceberg")


@attrs.frozen
class TrinoCompute:
    """A Trino coordinator, the Trino catalog of the platform's Iceberg catalog, and limits."""

    host: str = attrs.field(validator=_host)
    #: The Trino catalog whose Iceberg connector opens the platform's catalog profile.
    catalog: str = attrs.field(validator=_identifier)
    port: int = attrs.field(default=8080, validator=_port)
    http_scheme: Literal["http", "https"] = "https"
    user: str = "floe"
    #: The namespace of what floe does not publish as a table: dbt's views and seeds.
    schema: str = attrs.field(default="floe_build", validator=_identifier)
    threads: int = attrs.field(default=4, validator=_threads)
    session_properties: dict[str, str | int | float | bool] = attrs.Factory(dict)


@hookimpl
def floe_compute_settings() -> type:
    """Trino: ``host``, ``port``, ``http_scheme``, ``user``, ``catalog``, ``schema``,
    ``threads``, ``session_properties`` (and ``credentials: {mode: password|jwt}``)."""
    return TrinoCompute


@hookimpl
def floe_compute_resolve(settings: TrinoCompute, context: ResolveContext) -> dict:
    """Resolve to the dbt-trino target; passwords and tokens stay secret references."""
    profile: dict[str, Any] = {
        "type": "trino", "method": "none", "host": settings.host, "port": settings.port,
        "http_scheme": settings.http_scheme, "user": settings.user, "database": settings.catalog,
        "schema": settings.schema, "threads": settings.threads,
    }
    for name in settings.session_properties:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?", name):
            context.error(("session_properties", name), f"'{name}' is not a Trino session property "
                          "name, e.g. query_max_run_time or iceberg.compression_codec")
    if settings.session_properties:
        profile["session_properties"] = dict(sorted(settings.session_properties.items()))
    credentials = context.credentials
    if credentials is not None:
        mode = credentials.get("mode")
        if mode not in METHODS:
            context.error(("credentials", "mode"), f"a trino compute profile cannot use credentials "
                          f"mode '{mode}'; use password (basic or LDAP) or jwt")
        else:
            profile["method"] = METHODS[mode]
            if mode == "password":
                profile["user"] = credentials.get("user") or settings.user
                profile["password"] = credentials["password"]
            else:
                profile["jwt_token"] = credentials["token"]
            if settings.http_scheme == "http" and not _loopback(settings.host):
                context.error(("http_scheme",), "Trino accepts passwords and tokens only over "
                              "https; set http_scheme: https")
    return {"dbt_profile": profile}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@hookimpl
def floe_compute_writes_tables(config: dict) -> bool:
    """Trino's Iceberg connector writes the tables into the catalog itself."""
    return True


@hookimpl
def floe_compute_dbt_output(config: dict, context: Any) -> dict:
    """The dbt-trino target as compiled: nothing depends on the machine it runs on."""
    import logging

    # The Trino client announces at INFO, on every connection, that it has no keyring to cache
    # OAuth2 tokens in; floe never uses that cache.
    logging.getLogger("trino.auth").setLevel(logging.WARNING)
    return dict(config["dbt_profile"])
