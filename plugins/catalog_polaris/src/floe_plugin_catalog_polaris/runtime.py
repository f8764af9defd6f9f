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

    class FloeRestCatalog(compat.rest_catalog_class(mount)):
        @property
        def multi_table_commit_unavailable(self) -> str | None:
            """Why the run's tables cannot be committed at once here, or ``None`` if they can."""
            offered = {str(endpoint) for endpoint in compat.rest_supported_endpoints(self)}
            if TRANSACTIONS in offered:
                return None
            return f"the REST catalog does not list '{TRANSACTIONS}' in its /v1/config endpoints"

        def commit_tables(self, changes: list, journal: Any = None) -> list:
            """Commit several tables atomically: the Iceberg REST multi-table commit."""
            return _commit_transaction(self, changes)

    return FloeRestCatalog


#: The Iceberg REST multi-table commit, as a server lists it in /v1/config's ``endpoints``.
TRANSACTIONS = "POST /v1/{prefix}/transactions/commit"


def _commit_transaction(catalog: Any, changes: list) -> list:
    """POST every table's requirements and updates as one CommitTransactionRequest.

    The server applies all of them or none (409 when a requirement fails). It answers 204
    without the new metadata, so each table's is computed here from the same updates, as the
    server did; the metadata file's location stays the one the table was loaded from.
    """
    import json

    from pyiceberg.catalog.rest import CommitTableRequest
    from pyiceberg.table import StagedTable, TableIdentifier
    from pyiceberg.table.update import update_table_metadata

    from floe.runtime.commit import TablesCommitFailed

    names = [".".join(table.name()) for table, _, _, _ in changes]
    body = {"table-changes": [json.loads(CommitTableRequest(
        identifier=TableIdentifier(namespace=list(table.name()[:-1]), name=table.name()[-1]),
        requirements=requirements, updates=updates).model_dump_json(by_alias=True))
        for table, requirements, updates, _ in changes]}
    response = compat.rest_session(catalog).post(catalog.url("transactions/commit", prefixed=True),
                                            data=json.dumps(body).encode())
    if response.status_code == 409:
        message = _message(response)
        failed = [name for name in names if name in message]
        raise TablesCommitFailed(failed or names, message)
    if response.status_code >= 300:
        state = " (the commit may or may not have been applied)" if response.status_code >= 500 else ""
        raise FloeError(f"the catalog refused the run's commit of {len(changes)} tables: HTTP "
                        f"{response.status_code} {_message(response)}{state}")
    results = []
    for table, _, updates, staged in changes:
        new = isinstance(table, StagedTable)  # created by this commit: no metadata file yet
        metadata = staged if staged is not None else update_table_metadata(
            table.metadata, updates, metadata_location=None if new else table.metadata_location)
        results.append((metadata, table.metadata_location))
    return results


def _message(response: Any) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]
