"""An Iceberg REST catalog server on 127.0.0.1, standing in for Apache Polaris in tests.

No Polaris (or any other Iceberg REST server) can be installed on these machines, so the tests
run this one. It speaks the REST endpoints pyiceberg uses — config (with the ``endpoints`` it
offers), the OAuth2 client-credentials token endpoint, namespaces, table create (staged too)/
load/commit, and the multi-table commit ``POST /v1/{prefix}/transactions/commit`` (every
requirement of every table checked before any change applies; 409 and nothing applied when one
fails) — keeps its tables in a pyiceberg
``SqlCatalog`` whose warehouse is in S3 (moto's server in the tests), demands the client secret,
issues expiring bearer tokens, and vends storage credentials when a client asks for
``X-Iceberg-Access-Delegation: vended-credentials``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/api/catalog"
#: The multi-table commit, as /v1/config lists it.
TRANSACTIONS = "POST /v1/{prefix}/transactions/commit"
#: What /v1/config advertises besides it: the endpoints this server implements.
ENDPOINTS = ("GET /v1/{prefix}/namespaces", "POST /v1/{prefix}/namespaces",
             "GET /v1/{prefix}/namespaces/{namespace}", "DELETE /v1/{prefix}/namespaces/{namespace}",
             "GET /v1/{prefix}/namespaces/{namespace}/tables",
             "POST /v1/{prefix}/namespaces/{namespace}/tables",
             "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
             "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
             "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}")


class RestCatalogServer:
    """The server and its state; ``url`` is what a platform.yaml's ``uri`` points at."""

    def __init__(self, backing: Any, *, warehouse: str, client_id: str, client_secret: str,
                 scopes: tuple[str, ...] = ("PRINCIPAL_ROLE:ALL",), token_seconds: int = 3600,
                 vended: dict[str, str] | None = None, token_factory: Any = None):
        self.backing = backing
        #: Makes each access token (e.g. a signed JWT); random opaque tokens without it.
        self.token_factory = token_factory
        self.warehouse = warehouse
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.token_seconds = token_seconds
        self.vended = vended or {}
        self.tokens: dict[str, float] = {}
        self.token_requests = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.read_only_principal = False
        #: Answer this many of the next requests with 503, as an overloaded server would.
        self.unavailable = 0
        self.unavailable_answered = 0
        self.errors: list[Exception] = []
        #: Whether /v1/config advertises (and the server serves) the multi-table commit.
        self.multi_table_commit = True
        self._lock = threading.Lock()
        # Held while a commit applies and while a table is read: a reader sees a multi-table
        # commit whole or not at all.
        self._tables_lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PREFIX}"

    def start(self) -> "RestCatalogServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def expire_tokens(self) -> None:
        """Make every issued token invalid, as if they had all expired."""
        with self._lock:
            self.tokens.clear()

    def issue_token(self) -> str:
        token = self.token_factory() if self.token_factory else secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = time.monotonic() + self.token_seconds
            self.token_requests += 1
        return token

    def token_valid(self, token: str) -> bool:
        with self._lock:
            return self.tokens.get(token, 0) > time.monotonic()


def _error(status: int, kind: str, message: str) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": kind, "code": status}}


def _handler(state: RestCatalogServer) -> type:
    from pyiceberg.catalog.rest import CommitTableRequest, CreateTableRequest, TableResponse
    from pyiceberg.exceptions import (CommitFailedException, NamespaceAlreadyExistsError,
                                      NoSuchNamespaceError, NoSuchTableError, TableAlreadyExistsError)
    from pyiceberg.table.metadata import new_table_metadata
    from pyiceberg.table.update import AssertCreate

    catalog = state.backing

    def table_response(table: Any, headers: dict[str, str]) -> dict:
        config = {}
        if headers.get("x-iceberg-access-delegation") == "vended-credentials":
            config = dict(state.vended)
        body = TableResponse(**{"metadata-location": table.metadata_location,
                                "metadata": table.metadata, "config": config})
        return json.loads(body.model_dump_json(by_alias=True, exclude_none=True))

    def route(method: str, path: str, query: dict, headers: dict, body: bytes) -> tuple[int, Any]:
        with state._lock:
            if state.unavailable > 0:
                state.unavailable -= 1
                state.unavailable_answered += 1
                return _error(503, "ServiceUnavailableException", "Slow down, try again")
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] == ["v1", "oauth"] and method == "POST":
            return token(urllib.parse.parse_qs(body.decode()))
        if not state.token_valid(headers.get("authorization", "").removeprefix("Bearer ")):
            return _error(401, "NotAuthorizedException", "Not authorized: the bearer token is "
                                                          "missing, invalid or expired")
        if parts == ["v1", "config"]:
            if query.get("warehouse", [state.warehouse])[0] != state.warehouse:
                return _error(404, "NotFoundException",
                              f"Unable to find warehouse {query['warehouse'][0]}")
            endpoints = [*ENDPOINTS, *([TRANSACTIONS] if state.multi_table_commit else [])]
            return 200, {"defaults": {}, "overrides": {}, "endpoints": endpoints}
        if parts == ["v1", "transactions", "commit"] and method == "POST" and state.multi_table_commit:
            if state.read_only_principal:
                return _error(403, "ForbiddenException", f"Principal '{state.client_id}' is not "
                              "authorized for op COMMIT_TRANSACTION")
            return commit_transaction(json.loads(body))
        if parts[:2] != ["v1", "namespaces"]:
            return _error(404, "NotFoundException", f"no route {method} {path}")
        try:
            return namespaces(method, parts[2:], headers, body)
        except (NoSuchNamespaceError, NoSuchTableError) as exc:
            return _error(404, "NoSuchTableException" if isinstance(exc, NoSuchTableError)
                          else "NoSuchNamespaceException", str(exc))
        except (NamespaceAlreadyExistsError, TableAlreadyExistsError) as exc:
            return _error(409, "AlreadyExistsException", str(exc))
        except CommitFailedException as exc:
            return _error(409, "CommitFailedException", str(exc))

    def current(identifier: tuple[str, ...]) -> Any:
        try:
            return catalog.load_table(identifier)
        except NoSuchTableError:
            return None

    def apply(identifier: tuple[str, ...], table: Any, request: Any) -> Any:
        """Apply one table's commit whose requirements hold; create it for an AssertCreate."""
        if table is None and any(isinstance(r, AssertCreate) for r in request.requirements):
            return catalog.commit_table(_NewTable(identifier), request.requirements, request.updates)
        if table is None:
            raise NoSuchTableError(f"Table does not exist: {'.'.join(identifier)}")
        return catalog.commit_table(table, request.requirements, request.updates)

    def commit_transaction(request: dict) -> tuple[int, Any]:
        # CommitTransactionRequest: {"table-changes": [CommitTableRequest, ...]}, each change
        # naming its table. All requirements are checked before anything is applied.
        changes = [CommitTableRequest.model_validate(change) for change in request["table-changes"]]
        with state._tables_lock:
            loaded, failed = [], []
            for change in changes:
                identifier = (*change.identifier.namespace.root, change.identifier.name)
                table = current(identifier)
                try:
                    for requirement in change.requirements:
                        requirement.validate(table.metadata if table is not None else None)
                    if table is None and not any(isinstance(r, AssertCreate) for r in change.requirements):
                        raise CommitFailedException("the table does not exist")
                except CommitFailedException as exc:
                    failed.append(f"{'.'.join(identifier)}: {exc}")
                loaded.append((identifier, table, change))
            if failed:
                return _error(409, "CommitFailedException",
                              "Requirements failed for " + "; ".join(failed))
            for identifier, table, change in loaded:
                apply(identifier, table, change)
        return 204, None

    def token(form: dict) -> tuple[int, Any]:
        if (form.get("client_id", [""])[0] != state.client_id
                or form.get("client_secret", [""])[0] != state.client_secret):
            return 401, {"error": "invalid_client", "error_description": "The client credentials "
                                                                         "are invalid"}
        scope = form.get("scope", [""])[0]
        if scope and scope not in state.scopes:
            return 400, {"error": "invalid_scope", "error_description": f"scope {scope} is not granted"}
        return 200, {"access_token": state.issue_token(), "token_type": "bearer",
                     "expires_in": state.token_seconds, "issued_token_type":
                     "urn:ietf:params:oauth:token-type:access_token"}

    def namespaces(method: str, rest: list[str], headers: dict, body: bytes) -> tuple[int, Any]:
        if not rest:
            if method == "GET":
                return 200, {"namespaces": [list(ns) for ns in catalog.list_namespaces()]}
            request = json.loads(body)
            catalog.create_namespace(tuple(request["namespace"]), request.get("properties", {}))
            return 200, {"namespace": request["namespace"], "properties": request.get("properties", {})}
        namespace = tuple(rest[0].split("\x1f"))
        if len(rest) == 1:
            if method == "DELETE":
                catalog.drop_namespace(namespace)
                return 204, None
            properties = catalog.load_namespace_properties(namespace)
            return 200, {"namespace": list(namespace), "properties": properties}
        if rest[1] != "tables":
            return _error(404, "NotFoundException", f"no route {method} {'/'.join(rest)}")
        if state.read_only_principal and method in ("POST", "DELETE"):
            return _error(403, "ForbiddenException", f"Principal '{state.client_id}' with activated "
                          "PrincipalRoles '[]' is not authorized for op CREATE_TABLE_DIRECT")
        if len(rest) == 2:
            if method == "GET":
                return 200, {"identifiers": [{"namespace": list(ns), "name": name}
                                             for ns, name in catalog.list_tables(namespace)]}
            # Optional in the REST spec, required by pyiceberg's model: fill the gaps.
            fields = {"location": None, "partition-spec": None, "write-order": None, **json.loads(body)}
            request = CreateTableRequest.model_validate(fields)
            if request.stage_create:
                # Nothing is created: the client commits the table later, with AssertCreate.
                if current((*namespace, request.name)) is not None:
                    raise TableAlreadyExistsError(f"Table already exists: {request.name}")
                location = request.location or catalog._resolve_table_location(  # noqa: SLF001
                    None, ".".join(namespace), request.name)
                metadata = new_table_metadata(
                    location=location, schema=request.table_schema,
                    partition_spec=request.partition_spec or _unpartitioned(),
                    sort_order=request.write_order or _unsorted(), properties=request.properties)
                # A staged table is written before it is committed: it gets the vended keys too.
                vended = headers.get("x-iceberg-access-delegation") == "vended-credentials"
                body = TableResponse(**{"metadata": metadata, "config": dict(state.vended) if vended else {}})
                return 200, json.loads(body.model_dump_json(by_alias=True, exclude_none=True))
            table = catalog.create_table((*namespace, request.name), schema=request.table_schema,
                                         location=request.location, properties=request.properties,
                                         partition_spec=request.partition_spec or _unpartitioned(),
                                         sort_order=request.write_order or _unsorted())
            return 200, table_response(table, headers)
        identifier = (*namespace, rest[2])
        if method == "DELETE":
            catalog.drop_table(identifier)
            return 204, None
        with state._tables_lock:
            if method == "POST":
                request = CommitTableRequest.model_validate_json(body)
                response = apply(identifier, current(identifier), request)
                return 200, json.loads(response.model_dump_json(by_alias=True, exclude_none=True))
            return 200, table_response(catalog.load_table(identifier), headers)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            if not url.path.startswith(PREFIX):
                status, payload = _error(404, "NotFoundException", f"no route {url.path}")
            else:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                state.requests.append((method, url.path, headers))
                try:
                    status, payload = route(method, url.path[len(PREFIX):],
                                            urllib.parse.parse_qs(url.query), headers, body)
                except Exception as exc:  # noqa: BLE001 - a server answers 500, it does not hang up
                    state.errors.append(exc)
                    status, payload = _error(500, "ServerError", f"{type(exc).__name__}: {exc}")
            data = b"" if payload is None or method == "HEAD" else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_HEAD(self) -> None:  # noqa: N802
            self._serve("HEAD")

        def do_DELETE(self) -> None:  # noqa: N802
            self._serve("DELETE")

        def log_message(self, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


class _NewTable:
    """What the backing SqlCatalog's commit_table needs of a table it is to create: its name."""

    def __init__(self, identifier: tuple[str, ...]):
        self._identifier = identifier

    def name(self) -> tuple[str, ...]:
        return self._identifier


def _unpartitioned() -> Any:
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC

    return UNPARTITIONED_PARTITION_SPEC


def _unsorted() -> Any:
    from pyiceberg.table.sorting import UNSORTED_SORT_ORDER

    return UNSORTED_SORT_ORDER
