"""Compute ``trino``: dbt-trino on a Trino cluster; the engine writes the Iceberg tables.

The profile resolves at compile time to a dbt-trino target. At run time dbt builds on Trino,
whose Iceberg connector (the Trino catalog named by ``catalog``) must point at the platform's
catalog profile: each table model is created by Trino in the namespace of its layer, so floe
reads nothing back and publishes nothing itself.

Credentials: ``password`` and ``jwt`` (this distribution's modes) pass secret references to
dbt-trino; floe's ``oauth2`` mode obtains a token by the client-credentials grant at run time
(:func:`floe_compute_dbt_output`) and gives it to dbt-trino's ``jwt`` method.
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
METHODS = {"password": "ldap", "jwt": "jwt", "oauth2": "jwt"}
#: The compiled target's ``jwt_token`` under ``oauth2``: dbt's parse wants one, and the token
#: exists only at run time (:func:`floe_compute_dbt_output` puts it in).
OAUTH2_TOKEN_PLACEHOLDER = "obtained-at-run-time-by-oauth2"
_OAUTH2_EXAMPLE = ("credentials: {mode: oauth2, client_id: floe, client_secret: {secret_ref: trino-oauth}, "
                   "token_endpoint: https://idp.example.com/oauth/token}")


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


@field_check
def _ca_bundle(value: str | None) -> None:
    if value is not None and not value.strip():
        raise Invalid("expected the path of a PEM file of CA certificates, or leave ca_bundle out")


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
    #: PEM file of the CA certificates that verify the coordinator (relative: to the product).
    ca_bundle: str | None = attrs.field(default=None, validator=_ca_bundle)


@hookimpl
def floe_compute_settings() -> type:
    """Trino: ``host``, ``port``, ``http_scheme``, ``user``, ``catalog``, ``schema``,
    ``threads``, ``session_properties``, ``ca_bundle`` (and ``credentials: {mode:
    password|jwt|oauth2}``)."""
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
    if settings.ca_bundle is not None:
        profile["cert"] = settings.ca_bundle
    resolved: dict[str, Any] = {"dbt_profile": profile}
    credentials = context.credentials
    if credentials is not None:
        mode = credentials.get("mode")
        if mode not in METHODS:
            context.error(("credentials", "mode"), f"a trino compute profile cannot use credentials "
                          f"mode '{mode}'; use password (basic or LDAP), jwt or oauth2")
            return resolved
        profile["method"] = METHODS[mode]
        if mode == "password":
            profile["user"] = credentials.get("user") or settings.user
            profile["password"] = credentials["password"]
        elif mode == "jwt":
            profile["jwt_token"] = credentials["token"]
        else:
            if not credentials.get("token_endpoint"):
                context.error(("credentials", "token_endpoint"), "a trino compute profile's oauth2 "
                              "credentials need the identity provider's token endpoint: "
                              + _OAUTH2_EXAMPLE)
            # The token is obtained at run time (floe_compute_dbt_output); only references here.
            profile["jwt_token"] = OAUTH2_TOKEN_PLACEHOLDER
            resolved["credentials"] = dict(credentials)
        if settings.http_scheme == "http" and not _loopback(settings.host):
            context.error(("http_scheme",), "Trino accepts passwords and tokens only over "
                          "https; set http_scheme: https")
    return resolved


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
    """The dbt-trino target as compiled, ``cert`` made absolute; with ``oauth2`` credentials
    the token the client-credentials grant obtains, as an env_var() reference.

    The token is fetched (by floe's ``oauth2`` provider, cached and refreshed before it expires)
    when dbt is about to run, not here: loading a code location contacts no identity provider.
    """
    import logging

    from floe.runtime.dbt_env import ObtainedSecret

    # The Trino client announces at INFO, on every connection, that it has no keyring to cache
    # OAuth2 tokens in; floe never uses that cache.
    logging.getLogger("trino.auth").setLevel(logging.WARNING)
    output = dict(config["dbt_profile"])
    if output.get("cert"):
        output["cert"] = str(context.path(output["cert"]))
    credentials = config.get("credentials")
    if credentials is not None and credentials.get("mode") == "oauth2":
        output["jwt_token"] = ObtainedSecret("trino-oauth2-token", context.credentials(credentials).token)
    return output
