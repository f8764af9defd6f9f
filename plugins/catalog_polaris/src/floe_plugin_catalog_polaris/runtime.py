"""Run-time half of the polaris catalog plugin: a pyiceberg REST catalog with OAuth2.

pyiceberg does the REST protocol and the OAuth2 client-credentials flow (token caching and
refresh); floe adds what a production run needs around it: the client secret from the secret
backends (in memory only), bounded timeouts, retries on connection errors and 5xx answers, and
errors that say which principal, scope or warehouse is at fault.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from floe.diagnostics import FloeError
from floe.runtime import compat

if TYPE_CHECKING:
    from floe.runtime import RunContext

#: Status codes worth a retry: the server (or a proxy in front of it) may recover.
RETRY_STATUSES = (500, 502, 503, 504)


def connect(config: dict, storage: dict, context: "RunContext") -> Any:
    """Open the REST catalog; raise :class:`FloeError` naming what the server refused."""
    from pyiceberg.exceptions import (ForbiddenError, NoSuchNamespaceError, OAuthError, RESTError,
                                      ServerError, ServiceUnavailableError, UnauthorizedError)
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout

    credentials = config["credentials"]
    client_id = credentials["client_id"]
    if isinstance(client_id, dict):
        client_id = context.secret(client_id).reveal()
    secret = context.secret(credentials["client_secret"])
    properties = {
        "uri": config["uri"],
        "warehouse": config["warehouse"],
        "credential": f"{client_id}:{secret.reveal()}",
        "oauth2-server-uri": config["oauth2_server_uri"],
        "token-refresh-enabled": str(config["token_refresh_enabled"]).lower(),
        **{f"header.{name}": value for name, value in config["headers"].items()},
        **{key: str(value) for key, value in storage.get("properties", {}).items()},
    }
    if config.get("scope"):
        properties["scope"] = config["scope"]
    tls = config["tls"]
    if tls.get("ca_bundle") or not tls.get("verify", True):
        # Through pyiceberg's own `ssl` property, so it applies from the first request on (the
        # config fetch and the first token are requested while the catalog is constructed).
        properties["ssl"] = {"cabundle": tls.get("ca_bundle") or False}
    who = f"principal '{client_id}'" + (f" with scope '{config['scope']}'" if config.get("scope") else "")
    where = f"the Polaris catalog at {config['uri']}"
    catalog_class = _RestCatalog(config)
    try:
        # pyiceberg fetches the config and the first token while constructing the catalog, on a
        # session floe cannot equip with retries yet: retry the construction itself.
        for attempt in range(config["retries"] + 1):
            try:
                return catalog_class("polaris", **properties)
            except (ServerError, ServiceUnavailableError, RequestsConnectionError, Timeout):
                if attempt == config["retries"]:
                    raise
                time.sleep(0.2 * 2**attempt)
    except OAuthError as exc:
        raise FloeError(f"{where} refused the OAuth2 credentials of {who}: {exc}. Check the client "
                        "secret in the secret backends and the scopes granted to the principal") from None
    except UnauthorizedError as exc:
        raise FloeError(f"{where} answered 401 for {who}: {exc}") from None
    except ForbiddenError as exc:
        raise FloeError(f"{where} answered 403: {who} may not use warehouse "
                        f"'{config['warehouse']}': {exc}") from None
    except (NoSuchNamespaceError, RESTError) as exc:
        if "warehouse" in str(exc).lower() or "404" in str(exc) or "NotFound" in str(exc):
            raise FloeError(f"{where} has no warehouse '{config['warehouse']}' ({exc}); check "
                            "catalogs.<profile>.warehouse in platform.yaml") from None
        raise FloeError(f"{where} failed: {exc}") from None
    except (RequestsConnectionError, Timeout) as exc:
        raise FloeError(f"{where} is unreachable ({type(exc).__name__}); check the uri and that "
                        "the catalog is up") from None
    raise AssertionError("unreachable")  # the loop returns or raises


def _RestCatalog(config: dict) -> type:  # noqa: N802 - reads as the class it returns
    """pyiceberg's RestCatalog with floe's timeouts, retries and TLS settings on its session."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    timeouts = config["timeouts"]
    timeout = (timeouts["connect_seconds"], timeouts["read_seconds"])
    retry = Retry(total=config["retries"], connect=config["retries"], read=0,
                  status=config["retries"], status_forcelist=RETRY_STATUSES, allowed_methods=None,
                  backoff_factor=0.2, raise_on_status=False)

    class TimedAdapter(HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            # requests has no session-wide timeout: without one a hung catalog hangs the run.
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().send(request, **kwargs)

    def mount(session: Any) -> None:
        adapter = TimedAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)

    return compat.rest_catalog_class(mount)
