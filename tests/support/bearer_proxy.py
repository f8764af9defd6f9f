"""A loopback stand-in for a registry's token service, in front of a real docker-registry.

docker-registry's own token auth needs a JWT issuer with an x509 chain; this proxy instead
speaks the client side of the Docker/OCI token flow exactly: a request without a valid bearer
token gets ``401`` with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``; the
realm hands out a token for the right Basic credentials; requests with the token are passed
through to the real registry unchanged (the registry builds its URLs from the Host header the
proxy passes on).
"""

from __future__ import annotations

import base64
import http.client
import http.server
import secrets
import sys
import threading

import attrs


@attrs.define
class BearerProxy:
    """The running proxy: ``host`` to use in refs; ``tokens`` it issued; ``requests`` seen."""

    host: str
    server: http.server.ThreadingHTTPServer
    tokens: set[str] = attrs.Factory(set)
    token_requests: int = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_bearer_proxy(upstream: str, username: str, password: str, static_token: str | None = None) -> BearerProxy:
    """Proxy to ``upstream`` (``127.0.0.1:PORT``) requiring bearer tokens; ``static_token`` is
    accepted as if the token service had issued it (a token users obtained elsewhere)."""
    state: dict = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _reply(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _token(self) -> None:
            proxy: BearerProxy = state["proxy"]
            proxy.token_requests += 1
            expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._reply(401, {"Content-Type": "application/json"}, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                return
            token = secrets.token_urlsafe(16)
            proxy.tokens.add(token)
            self._reply(200, {"Content-Type": "application/json"}, ('{"token": "%s"}' % token).encode())

        def _proxy(self) -> None:
            proxy: BearerProxy = state["proxy"]
            if self.path.startswith("/token"):
                return self._token()
            auth = self.headers.get("Authorization", "")
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
            if token is None or (token not in proxy.tokens and token != static_token):
                challenge = (f'Bearer realm="http://{proxy.host}/token",service="floe-tests",'
                             'scope="repository:acme:pull,push"')
                self._reply(401, {"WWW-Authenticate": challenge, "Content-Type": "application/json"},
                            b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("authorization", "content-length")}
            connection = http.client.HTTPConnection(upstream, timeout=60)
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            connection.close()
            passed = {k: v for k, v in answer.getheaders() if k.lower() not in ("content-length", "connection",
                                                                               "transfer-encoding")}
            self._reply(answer.status, passed, data)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _proxy

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:  # noqa: ANN001 - socketserver's
            # A client that closes its connection (floe's, between requests) is no error of the
            # proxy's; socketserver would print a traceback into the output the tests read.
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    proxy = BearerProxy(f"127.0.0.1:{server.server_address[1]}", server)
    state["proxy"] = proxy
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return proxy
