"""Catalog ``polaris``: an Apache Polaris server, reached through the Iceberg REST protocol.

The profile resolves to the properties run time hands to pyiceberg's REST catalog. Polaris
authenticates clients with the OAuth2 client-credentials flow, so ``oauth2`` is the only
credential mode accepted; the client secret stays a ``{secret_ref: ...}`` in the artifacts.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from floe.plugins import ResolveContext, hookimpl
from floe.schema.structure import Invalid, field_check
from floe.schema.urls import check_http_url, is_insecure

#: Credential modes Polaris accepts: its REST API issues tokens for client credentials only.
MODES = ("oauth2",)
#: Polaris serves its token endpoint here, relative to the catalog URI.
_TOKEN_PATH = "/v1/oauth/tokens"
_CREDENTIALS_EXAMPLE = ("credentials: {mode: oauth2, client_id: <client id>, "
                        "client_secret: {secret_ref: <secret name>}}")


@field_check
def _uri(value: str) -> None:
    parts = check_http_url(value, "the catalog's REST endpoint, e.g. https://polaris:8181/api/catalog",
                           "authenticate with " + _CREDENTIALS_EXAMPLE)
    if parts.query or parts.fragment:
        raise Invalid(f"'{value}' has a query or fragment; the REST client appends its own paths, "
                      "so write only scheme, host, port and path, e.g. https://polaris:8181/api/catalog")


@field_check
def _warehouse(value: str) -> None:
    if not value.strip():
        raise Invalid("expected the name of a Polaris catalog, e.g. warehouse: production_catalog")


@field_check
def _ca_bundle(value: str | None) -> None:
    if value is not None and not value.strip():
        raise Invalid("expected the path of a PEM file of CA certificates, or leave ca_bundle out")


@field_check
def _seconds(value: float) -> None:
    if not 0 < value <= 3600:
        raise Invalid(f"a timeout must be more than 0 and at most 3600 seconds, got {value:g}")


@field_check
def _retries(value: int) -> None:
    if not 0 <= value <= 10:
        raise Invalid(f"retries must be between 0 and 10, got {value}")


@attrs.frozen
class Tls:
    """Certificate checks: ``verify`` the server, optionally against a private ``ca_bundle``."""

    verify: bool = True
    #: PEM file of the CA certificates that verify the catalog (relative: to the product).
    ca_bundle: str | None = attrs.field(default=None, validator=_ca_bundle)


@attrs.frozen
class Timeouts:
    """How long to wait for a connection and for a response, in seconds."""

    connect_seconds: float = attrs.field(default=10.0, validator=_seconds)
    read_seconds: float = attrs.field(default=60.0, validator=_seconds)


@attrs.frozen
class PolarisCatalog:
    """A Polaris REST endpoint, the catalog (``warehouse``) inside it, and how to talk to it."""

    uri: str = attrs.field(validator=_uri)
    warehouse: str = attrs.field(validator=_warehouse)
    access_delegation: Literal["vended-credentials", "remote-signing"] | None = None
    token_refresh_enabled: bool = True
    tls: Tls = Tls()
    timeouts: Timeouts = Timeouts()
    retries: int = attrs.field(default=3, validator=_retries)


@hookimpl
def floe_catalog_settings() -> type:
    """Polaris: ``uri``, ``warehouse``, ``access_delegation``, token refresh, TLS, timeouts, retries."""
    return PolarisCatalog


@hookimpl
def floe_catalog_resolve(settings: PolarisCatalog, context: ResolveContext) -> dict:
    """Resolve to pyiceberg REST catalog properties; the client secret stays a reference."""
    credentials = _oauth2_credentials(context)
    _check_transport(settings, context)
    headers = {}
    if settings.access_delegation:
        # Polaris vends storage credentials (or signs requests) only when the client asks.
        headers["X-Iceberg-Access-Delegation"] = settings.access_delegation
    credentials = credentials or {}
    # Named explicitly because pyiceberg's implicit default for it is deprecated.
    token_endpoint = credentials.get("token_endpoint") or settings.uri.rstrip("/") + _TOKEN_PATH
    return {
        "type": "rest",
        "uri": settings.uri,
        "warehouse": settings.warehouse,
        "credentials": credentials,
        "scope": credentials.get("scope"),
        "oauth2_server_uri": token_endpoint,
        "token_refresh_enabled": settings.token_refresh_enabled,
        "access_delegation": settings.access_delegation,
        "headers": headers,
        "tls": {"verify": settings.tls.verify, "ca_bundle": settings.tls.ca_bundle},
        "timeouts": {"connect_seconds": settings.timeouts.connect_seconds,
                     "read_seconds": settings.timeouts.read_seconds},
        "retries": settings.retries,
    }


def _oauth2_credentials(context: ResolveContext) -> dict[str, Any] | None:
    credentials = context.credentials
    if credentials is None:
        context.error(("credentials",), f"a polaris catalog needs OAuth2 client credentials; add "
                      f"{_CREDENTIALS_EXAMPLE}")
        return None
    mode = credentials.get("mode")
    if mode not in MODES:
        context.error(("credentials", "mode"), f"a polaris catalog cannot use credentials mode "
                      f"'{mode}'; Polaris issues tokens for OAuth2 client credentials: write "
                      f"{_CREDENTIALS_EXAMPLE}")
        return None
    return dict(credentials)


def _check_transport(settings: PolarisCatalog, context: ResolveContext) -> None:
    if is_insecure(check_http_url(settings.uri, "")):
        context.warn(("uri",), f"'{settings.uri}' is plain http: the OAuth2 client secret and tokens "
                     "travel unencrypted to a host other than this machine; use https")
    if not settings.tls.verify:
        if settings.tls.ca_bundle is not None:
            context.error(("tls", "ca_bundle"), "ca_bundle has no effect while verify is false; "
                          "remove one of them")
        else:
            context.warn(("tls", "verify"), "certificate verification is off: anyone on the "
                         "network path can impersonate the catalog; prefer a ca_bundle")


@hookimpl
def floe_catalog_connect(config: dict, storage: dict, context: Any) -> Any:
    """Open the Polaris REST catalog for a run (see :mod:`.runtime`)."""
    from floe_plugin_catalog_polaris import runtime

    return runtime.connect(config, storage, context)


@hookimpl
def floe_catalog_engine_properties(config: dict, context: Any) -> dict:
    """The REST catalog's Iceberg properties for an engine; the client secret stays a reference."""
    properties: dict[str, Any] = {"type": "rest", "uri": config["uri"]}
    if config.get("warehouse"):
        properties["warehouse"] = config["warehouse"]
    credentials = config.get("credentials") or {}
    if credentials.get("mode") == "oauth2":
        properties["oauth2-server-uri"] = config["oauth2_server_uri"]
        properties["oauth2.client-id"] = credentials["client_id"]
        properties["oauth2.client-secret"] = credentials["client_secret"]
        if config.get("scope"):
            properties["scope"] = config["scope"]
    if config.get("access_delegation"):
        properties["header.X-Iceberg-Access-Delegation"] = config["access_delegation"]
    return properties
