"""Run-time half of the polaris catalog plugin: a pyiceberg REST catalog with OAuth2.

pyiceberg does the REST protocol and the OAuth2 client-credentials flow (token caching and
refresh); floe adds what a production run needs around it: the client secret from the secret
backends (in memory only), bounded timeouts, retries on connection errors and 5xx answers, and
errors that say which principal, scope or warehouse is at fault.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import urllib.parse
from pathlib import Path
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
    from requests.exceptions import SSLError as RequestsSSLError
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
    properties.update(_vended_fileio(config, properties))
    profile = _profile_name(context)
    tls = {**config["tls"], "ca_bundle": _ca_bundle(config["tls"], profile, context)}
    config = {**config, "tls": tls}
    if tls.get("ca_bundle") or not tls.get("verify", True):
        # Through pyiceberg's own `ssl` property, so it applies from the first request on (the
        # config fetch and the first token are requested while the catalog is constructed).
        properties["ssl"] = {"cabundle": tls["ca_bundle"] or False}
    if not tls.get("verify", True):
        _warn_unverified(config["uri"], profile)
    who = f"principal '{client_id}'" + (f" with scope '{config['scope']}'" if config.get("scope") else "")
    where = f"the Polaris catalog at {config['uri']}"
    catalog_class = _RestCatalog(config)
    try:
        # pyiceberg fetches the config and the first token while constructing the catalog, on a
        # session floe cannot equip with retries yet: retry the construction itself.
        for attempt in range(config["retries"] + 1):
            try:
                return catalog_class("polaris", **properties)
            except RequestsSSLError:
                raise  # a certificate does not get better by asking again
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
    except RequestsSSLError as exc:
        raise _tls_failure(exc, where, tls, profile) from None
    except (RequestsConnectionError, Timeout) as exc:
        raise FloeError(f"{where} is unreachable ({type(exc).__name__}); check the uri and that "
                        "the catalog is up") from None
    raise AssertionError("unreachable")  # the loop returns or raises


def _vended_fileio(config: dict, properties: dict) -> dict[str, str]:
    """Select the FileIO that explains missing or refused vended keys, when keys are vended.

    Only when the storage brings no keys (and no FileIO) of its own: then the keys the catalog
    vends with each table are the only ones the run has.
    """
    if config.get("access_delegation") != "vended-credentials":
        return {}
    if properties.get("s3.access-key-id") or properties.get("py-io-impl"):
        return {}
    from floe_plugin_catalog_polaris.vended_io import IMPL, VENDED_BY

    return {"py-io-impl": IMPL, VENDED_BY: config["uri"]}


def _profile_name(context: Any) -> str:
    """The catalog profile's name in platform.yaml, for messages that name a setting."""
    try:
        return context.artifacts.profiles.catalog.profile
    except AttributeError:
        return "<name>"


def _ca_bundle(tls: dict, profile: str, context: "RunContext") -> str | None:
    """The CA bundle's path; a relative one is anchored at the product directory, as every path
    of a run is, so it does not depend on where the process was started (a code server's)."""
    bundle = tls.get("ca_bundle")
    if not bundle:
        return None
    path = context.path(bundle)
    if not path.is_file():
        raise FloeError(f"catalogs.{profile}.tls.ca_bundle: no file at {bundle}"
                        f"{'' if Path(bundle).is_absolute() else f' ({path})'}; point it at the "
                        "PEM file of the CA that signed the catalog's certificate")
    return str(path)


_warned_unverified: set[str] = set()
_warned_lock = threading.Lock()


def _warn_unverified(uri: str, profile: str) -> None:
    """Say once per catalog and process that certificates go unchecked, instead of urllib3's
    warning on every request."""
    import warnings

    from urllib3.exceptions import InsecureRequestWarning

    host = urllib.parse.urlsplit(uri).netloc
    warnings.filterwarnings("ignore", category=InsecureRequestWarning)
    with _warned_lock:
        if uri in _warned_unverified:
            return
        _warned_unverified.add(uri)
    sys.stderr.write(f"warning: catalogs.{profile}.tls.verify is false: the certificate of {host} "
                     "is not checked, so anyone on the network path can impersonate the catalog; "
                     f"prefer catalogs.{profile}.tls.ca_bundle\n")


def _tls_failure(exc: Exception, where: str, tls: dict, profile: str) -> FloeError:
    """A certificate problem, naming the host that presented it and the setting to change."""
    request = getattr(exc, "request", None)
    host = urllib.parse.urlsplit(request.url).netloc if getattr(request, "url", None) else ""
    if not host:
        found = re.search(r"host='([^']+)', port=(\d+)", str(exc))
        host = f"{found.group(1)}:{found.group(2)}" if found else "the server"
    found = re.search(r"certificate verify failed: ([^(')\]]+)", str(exc))
    reason = found.group(1).strip() if found else type(exc).__name__
    bundle = tls.get("ca_bundle")
    against = (f"the CA bundle {bundle} (catalogs.{profile}.tls.ca_bundle)" if bundle
               else "the system's CA certificates")
    return FloeError(f"{where}: the TLS certificate of {host} could not be verified against "
                     f"{against} ({reason}); set catalogs.{profile}.tls.ca_bundle to the PEM file "
                     "of the CA that signed it")


def _RestCatalog(config: dict) -> type:  # noqa: N802 - reads as the class it returns
    """pyiceberg's RestCatalog with floe's timeouts, retries and TLS settings on its session."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    timeouts = config["timeouts"]
    timeout = (timeouts["connect_seconds"], timeouts["read_seconds"])
    retry = Retry(total=config["retries"], connect=config["retries"], read=0,
                  status=config["retries"], status_forcelist=RETRY_STATUSES, allowed_methods=None,
                  backoff_factor=0.2, raise_on_status=False)

    tls = config["tls"]
    verify = tls.get("ca_bundle") or (False if not tls.get("verify", True) else None)

    class TimedAdapter(HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            # requests has no session-wide timeout: without one a hung catalog hangs the run.
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            if verify is not None:
                # requests lets $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE override a session's verify
                # setting; the platform's tls settings must win over the environment.
                kwargs["verify"] = verify
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

        #: Tables the last commit_tables created after the transaction, not inside it.
        created_after_commit = 0

        def commit_tables(self, changes: list, journal: Any = None) -> list:
            """Commit several tables atomically: the Iceberg REST multi-table commit."""
            self.created_after_commit = 0
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
    creates = [change for change in changes if isinstance(change[0], StagedTable)]
    if response.status_code == 404 and creates:
        # Iceberg's reference REST server loads every table of a transaction before applying
        # any, so a table this run creates cannot be part of one (404, nothing applied). The
        # tables that exist commit together; each new table is then created on its own, so a
        # run that adds tables shows them a moment after the others changed.
        return _commit_existing_then_create(catalog, changes)
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


def _commit_existing_then_create(catalog: Any, changes: list) -> list:
    from pyiceberg.table import StagedTable

    existing = [change for change in changes if not isinstance(change[0], StagedTable)]
    catalog.created_after_commit = len(changes) - len(existing)
    done = dict(zip(map(id, existing), _commit_transaction(catalog, existing))) if existing else {}
    results = []
    for change in changes:
        if id(change) not in done:
            table, requirements, updates, _ = change
            response = catalog.commit_table(table, requirements, updates)
            done[id(change)] = (response.metadata, response.metadata_location)
        results.append(done[id(change)])
    return results


def _message(response: Any) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]
