"""Credential modes at run time, against real servers on 127.0.0.1.

``oauth2`` talks to a small OAuth2 token endpoint and a protected API the tests run with
http.server (it stands in for Polaris' token endpoint and REST API: it counts requests, issues
tokens with the lifetime a test asks for, and can revoke them). ``iam_role`` and
``service_account`` call STS on moto's server. Expiry is driven by a fake clock handed to the
providers, so a test never sleeps through a token's lifetime (one test does, once, for real).
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from floe.diagnostics import FloeError
from floe.plugins import PluginRegistry
from floe.runtime.credentials import (
    AssumeRoleProvider,
    AwsCredentials,
    OAuth2Provider,
    StaticProvider,
    VendedProvider,
    WebIdentityProvider,
    refresh_margin,
)
from floe.runtime.secrets import MASK, SecretValue
from floe.schema.types import SecretRef

CLIENT_SECRET = "oauth-canary-0b6f4e2a91"
ROLE = "arn:aws:iam::123456789012:role/FloeStorage"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Secrets:
    """Stands in for RunContext where only ``secret(ref)`` is needed."""

    def __init__(self, **values: str):
        self.values = values
        self.asked: list[SecretRef] = []

    def secret(self, ref) -> SecretValue:
        ref = SecretRef(ref["secret_ref"], ref.get("key")) if isinstance(ref, dict) else ref
        self.asked.append(ref)
        return SecretValue(self.values[str(ref)])


# -- the loopback OAuth2 server -----------------------------------------------------------------


class TokenServer:
    """Token endpoint ``POST /oauth/tokens`` and protected ``GET /api/v1/config``.

    ``POST /oauth/empty`` answers 200 without a token, for the malformed-answer case.
    """

    def __init__(self) -> None:
        self.expires_in: int | None = 3600
        self.token_requests: list[dict] = []
        self.api_requests: list[str | None] = []
        self.valid: set[str] = set()
        self.echo_secret_in_errors = False
        self.api_accepts_tokens = True
        self._numbers = itertools.count(1)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                server.token_requests.append(form)
                if self.path == "/oauth/empty":  # a 200 that is not a token response
                    return self._send(200, {"token_type": "bearer"})
                if form.get("grant_type") != "client_credentials":
                    return self._send(400, {"error": "unsupported_grant_type"})
                if (form.get("client_id"), form.get("client_secret")) != ("floe", CLIENT_SECRET):
                    description = f"bad secret {form.get('client_secret')}" if server.echo_secret_in_errors \
                        else "client authentication failed"
                    return self._send(401, {"error": "invalid_client", "error_description": description})
                token = f"token-{next(server._numbers)}"
                server.valid.add(token)
                body = {"access_token": token, "token_type": "bearer",
                        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}
                if server.expires_in is not None:
                    body["expires_in"] = server.expires_in
                self._send(200, body)

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
                server.api_requests.append(token)
                if token not in server.valid or not server.api_accepts_tokens:
                    return self._send(401, {"error": {"message": "Not authorized", "code": 401}})
                self._send(200, {"defaults": {}, "overrides": {"prefix": "floe"}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        self.expires_in = 3600
        self.token_requests.clear()
        self.api_requests.clear()
        self.valid.clear()
        self.echo_secret_in_errors = False
        self.api_accepts_tokens = True
        self._numbers = itertools.count(1)

    def revoke_all(self) -> None:
        self.valid.clear()


@pytest.fixture(scope="module")
def token_server():
    server = TokenServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def idp(token_server) -> TokenServer:
    token_server.reset()
    return token_server


def oauth2(idp: TokenServer, clock=None, **overrides) -> OAuth2Provider:
    config = {"mode": "oauth2", "client_id": "floe", "client_secret": {"secret_ref": "polaris-oauth"},
              "token_endpoint": f"{idp.url}/oauth/tokens", **overrides}
    return OAuth2Provider(config, Secrets(**{"polaris-oauth": CLIENT_SECRET, "polaris#client-id": "floe"}),
                          clock=clock or time.time)


# -- oauth2 -------------------------------------------------------------------------------------


def test_oauth2_fetches_a_token_with_the_client_credentials_grant(idp):
    provider = oauth2(idp, scope="PRINCIPAL_ROLE:ALL", audience="polaris")
    token = provider.token()
    assert isinstance(token, SecretValue) and token.reveal() == "token-1"
    assert idp.token_requests == [{"grant_type": "client_credentials", "client_id": "floe",
                                   "client_secret": CLIENT_SECRET, "scope": "PRINCIPAL_ROLE:ALL",
                                   "audience": "polaris"}]


def test_oauth2_client_id_may_itself_be_a_secret(idp):
    provider = oauth2(idp, client_id={"secret_ref": "polaris", "key": "client-id"})
    assert provider.token().reveal() == "token-1"
    assert idp.token_requests[0]["client_id"] == "floe"


def test_oauth2_caches_the_token_until_shortly_before_it_expires(idp):
    clock = FakeClock()
    idp.expires_in = 600
    provider = oauth2(idp, clock)
    assert provider.token().reveal() == "token-1"
    clock.now += 600 - refresh_margin(600) - 1  # 59 s before expiry: still the cached token
    assert provider.token().reveal() == "token-1"
    assert len(idp.token_requests) == 1
    clock.now += 2  # inside the refresh margin (60 s of a 600 s token): a new one, before expiry
    assert provider.token().reveal() == "token-2"
    assert len(idp.token_requests) == 2 and provider.fetches == 2


def test_oauth2_refreshes_a_short_lived_token_in_real_time(idp):
    idp.expires_in = 1
    provider = oauth2(idp)
    assert provider.token().reveal() == "token-1"
    time.sleep(0.95)  # past 90 % of the lifetime
    assert provider.token().reveal() == "token-2"


def test_a_token_without_expires_in_is_kept_until_the_server_rejects_it(idp):
    clock = FakeClock()
    idp.expires_in = None
    provider = oauth2(idp, clock)
    provider.token()
    clock.now += 10 * 86400
    assert provider.token().reveal() == "token-1"
    idp.revoke_all()
    response = provider.request("GET", f"{idp.url}/api/v1/config")
    assert response.status_code == 200
    assert provider.token().reveal() == "token-2"


def test_a_401_from_the_api_gets_a_new_token_and_exactly_one_retry(idp):
    provider = oauth2(idp)
    assert provider.request("GET", f"{idp.url}/api/v1/config").json()["overrides"] == {"prefix": "floe"}
    idp.revoke_all()  # the server forgets token-1, as after a restart or a revocation
    response = provider.request("GET", f"{idp.url}/api/v1/config")
    assert response.status_code == 200
    assert idp.api_requests == ["token-1", "token-1", "token-2"]
    assert len(idp.token_requests) == 2


def test_a_second_401_is_returned_after_one_retry_not_looped_on(idp):
    provider = oauth2(idp)
    idp.api_accepts_tokens = False  # the principal lost access: every token is refused
    response = provider.request("GET", f"{idp.url}/api/v1/config")
    assert response.status_code == 401
    assert idp.api_requests == ["token-1", "token-2"]


def test_a_refused_client_is_an_error_that_names_the_secret_not_its_value(idp):
    provider = OAuth2Provider({"mode": "oauth2", "client_id": "floe",
                               "client_secret": {"secret_ref": "polaris-oauth"},
                               "token_endpoint": f"{idp.url}/oauth/tokens"},
                              Secrets(**{"polaris-oauth": "wrong-" + CLIENT_SECRET}))
    idp.echo_secret_in_errors = True  # a careless server that echoes what it was sent
    with pytest.raises(FloeError) as caught:
        provider.token()
    assert str(caught.value) == (
        f"credentials mode 'oauth2': the token endpoint {idp.url}/oauth/tokens refused client 'floe' "
        f"(HTTP 401: invalid_client: bad secret {MASK}); check the client id and the secret "
        "'polaris-oauth'")


def test_an_unreachable_token_endpoint_is_an_error_naming_it(idp):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = oauth2(idp, token_endpoint=f"http://127.0.0.1:{port}/oauth/tokens")
    with pytest.raises(FloeError) as caught:
        provider.token()
    assert str(caught.value) == (
        f"credentials mode 'oauth2': cannot reach the token endpoint http://127.0.0.1:{port}/oauth/tokens "
        "(ConnectionError); check token_endpoint and that the server is up")


def test_an_answer_without_an_access_token_is_an_error(idp):
    provider = oauth2(idp, token_endpoint=f"{idp.url}/oauth/empty")
    with pytest.raises(FloeError) as caught:
        provider.token()
    assert str(caught.value) == (f"credentials mode 'oauth2': the token endpoint {idp.url}/oauth/empty "
                                 "answered without an access_token; is it an OAuth2 token endpoint?")


def test_oauth2_without_a_token_endpoint_says_where_to_set_it(idp):
    provider = oauth2(idp, token_endpoint=None)
    with pytest.raises(FloeError, match=r"^credentials mode 'oauth2' has no token_endpoint; set "
                                        r"credentials\.token_endpoint in platform\.yaml$"):
        provider.token()


def test_concurrent_callers_share_one_token_request(idp):
    provider = oauth2(idp)
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda: tokens.append(provider.token().reveal()))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tokens == ["token-1"] * 8
    assert len(idp.token_requests) == 1


# -- static ---------------------------------------------------------------------------------------


def test_static_keys_come_from_the_secret_backends_and_print_masked():
    secrets = Secrets(**{"s3#key-id": "AKIAEXAMPLE", "s3#secret": "static-canary-1c9f"})
    provider = StaticProvider({"mode": "static", "access_key_id": {"secret_ref": "s3", "key": "key-id"},
                               "secret_access_key": {"secret_ref": "s3", "key": "secret"}}, secrets)
    keys = provider.credentials()
    assert keys.access_key_id.reveal() == "AKIAEXAMPLE"
    assert keys.secret_access_key.reveal() == "static-canary-1c9f"
    assert keys.session_token is None and keys.expiration is None
    assert "static-canary-1c9f" not in repr(keys) and "AKIAEXAMPLE" not in repr(keys)


def test_a_literal_access_key_id_is_used_as_written():
    provider = StaticProvider({"mode": "static", "access_key_id": "AKIAEXAMPLE",
                               "secret_access_key": {"secret_ref": "s3"}}, Secrets(s3="x"))
    assert provider.credentials().access_key_id == "AKIAEXAMPLE"


# -- STS on moto ------------------------------------------------------------------------------------


def test_iam_role_assumes_the_role_and_reassumes_before_expiry(floe_moto):
    clock = FakeClock()
    clock.now = time.time()
    provider = AssumeRoleProvider({"mode": "iam_role", "role_arn": ROLE, "session_name": "floe-run",
                                   "duration_seconds": 900, "region": "us-east-1",
                                   "sts_endpoint": floe_moto}, Secrets(), clock=clock)
    first = provider.credentials()
    answered = time.time()
    assert isinstance(first, AwsCredentials)
    assert first.access_key_id.startswith("ASIA")
    assert isinstance(first.secret_access_key, SecretValue) and first.secret_access_key.reveal()
    assert isinstance(first.session_token, SecretValue)
    # STS sets the expiry from when it answered: 900 s after a moment between asking and now.
    assert 899 <= first.expiration.timestamp() - clock.now <= 901 + (answered - clock.now)
    assert provider.credentials() is first
    clock.now = first.expiration.timestamp() - refresh_margin(900) - 1
    assert provider.credentials() is first and provider.fetches == 1
    clock.now += 2  # inside the 90 s margin of a 900 s session: assumed again, before expiry
    second = provider.credentials()
    assert second.access_key_id != first.access_key_id and provider.fetches == 2


def test_iam_role_passes_the_external_id_from_the_secret_backends(floe_moto):
    secrets = Secrets(**{"role-external-id": "ext-1"})
    provider = AssumeRoleProvider({"mode": "iam_role", "role_arn": ROLE, "sts_endpoint": floe_moto,
                                   "external_id": {"secret_ref": "role-external-id"}}, secrets)
    assert provider.credentials().access_key_id.startswith("ASIA")
    assert secrets.asked == [SecretRef("role-external-id")]


def test_iam_role_without_aws_credentials_says_how_to_provide_them(floe_moto, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    provider = AssumeRoleProvider({"mode": "iam_role", "role_arn": ROLE, "sts_endpoint": floe_moto},
                                  Secrets())
    with pytest.raises(FloeError) as caught:
        provider.credentials()
    assert str(caught.value) == (
        f"credentials mode 'iam_role': STS AssumeRole for {ROLE} at {floe_moto} failed (no AWS "
        "credentials in the environment to call it with); give the process AWS credentials (an "
        "instance or pod role, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")


def test_service_account_exchanges_the_token_file_without_aws_keys(floe_moto, monkeypatch, tmp_path):
    # Workload identity needs no AWS keys: the projected token is the credential.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.first.sig\n")
    clock = FakeClock()
    clock.now = time.time()
    provider = WebIdentityProvider({"mode": "service_account", "role_arn": ROLE,
                                    "token_file": str(token_file), "duration_seconds": 900,
                                    "sts_endpoint": floe_moto, "region": "us-east-1"},
                                   Secrets(), clock=clock)
    first = provider.credentials()
    assert first.access_key_id.startswith("ASIA")
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.rotated.sig\n")  # the kubelet rotates it
    clock.now = first.expiration.timestamp() - 1
    second = provider.credentials()
    assert second.access_key_id != first.access_key_id and provider.fetches == 2


def test_service_account_without_a_token_file_says_what_to_project(floe_moto, tmp_path):
    missing = tmp_path / "serviceaccount" / "token"
    provider = WebIdentityProvider({"mode": "service_account", "role_arn": ROLE,
                                    "token_file": str(missing), "sts_endpoint": floe_moto}, Secrets())
    with pytest.raises(FloeError) as caught:
        provider.credentials()
    assert str(caught.value) == (
        f"credentials mode 'service_account': cannot read the web-identity token file {missing} "
        "(No such file or directory); project a service-account token there (EKS does this for "
        "pods whose service account is annotated with eks.amazonaws.com/role-arn) or set token_file")


# -- through the plugin hook ------------------------------------------------------------------------


def test_each_mode_provides_its_provider_through_the_credentials_hook(floe_moto, tmp_path):
    registry = PluginRegistry()
    made = {mode: registry.load("credentials", mode).call("provide", config={"mode": mode}, context=None)
            for mode in ("static", "oauth2", "iam_role", "service_account", "vended_credentials")}
    assert {mode: type(p) for mode, p in made.items()} == {
        "static": StaticProvider, "oauth2": OAuth2Provider, "iam_role": AssumeRoleProvider,
        "service_account": WebIdentityProvider, "vended_credentials": VendedProvider}
    assert made["vended_credentials"].credentials() is None  # the catalog vends them, per table


def test_the_run_context_keeps_one_provider_per_credentials_block(demo, idp):
    from floe.compiler import compile_product
    from floe.runtime import RunContext

    context = RunContext(compile_product(demo / "floe.yaml", write=False).artifacts, demo)
    config = {"mode": "oauth2", "client_id": "floe", "client_secret": {"secret_ref": "polaris-oauth"},
              "token_endpoint": f"{idp.url}/oauth/tokens"}
    provider = context.credentials(config)
    assert context.credentials(dict(config)) is provider
    assert context.credentials({**config, "scope": "other"}) is not provider
