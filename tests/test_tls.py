"""The Polaris catalog over HTTPS: the REST API and the OAuth2 token endpoint, with a test CA.

The REST stand-in for Polaris (tests/support/iceberg_rest.py; no Polaris runs here) serves
HTTPS on 127.0.0.1 with a certificate from a CA the fixtures mint with ``cryptography``
(tests/support/tls.py). The polaris plugin connects through its real run-time code; the only
stand-in on the client side is the context that hands it the client secret.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from support.iceberg_rest import PREFIX, RestCatalogServer
from support.tls import mint_ca, serve_tls

from floe.diagnostics import FloeError
from floe.runtime.secrets import SecretValue
from floe.testing import resolve_section

SECRET = "tls-client-secret"


class Context:
    """What the plugin's connect needs from a run: the client secret and the profile's name."""

    class artifacts:  # noqa: N801 - mirrors RunContext.artifacts.profiles.catalog.profile
        class profiles:  # noqa: N801
            class catalog:  # noqa: N801
                profile = "lakehouse"

    def __init__(self, product_dir: Path | None = None):
        self.product_dir = product_dir or Path.cwd()

    def secret(self, ref) -> SecretValue:
        assert ref == {"secret_ref": "polaris-oauth"}
        return SecretValue(SECRET)

    def path(self, relative: str) -> Path:
        return self.product_dir / relative


def _https(server: RestCatalogServer) -> str:
    host, port = server._server.server_address[:2]
    return f"https://{host}:{port}{PREFIX}"


def _server(tmp_path_factory, ca, name):
    work = tmp_path_factory.mktemp(name)
    backing = SqlCatalog(name, uri=f"sqlite:///{work / 'catalog.db'}", warehouse=(work / "warehouse").as_uri())
    server = RestCatalogServer(backing, warehouse="prod", client_id="floe", client_secret=SECRET,
                              scopes=("catalog",))  # pyiceberg asks for "catalog" by default
    serve_tls(server._server, ca)
    return server.start()


@pytest.fixture(scope="session")
def tls_servers(tmp_path_factory):
    """Two HTTPS stand-ins: ``catalog`` (cert from CA ``good``) and ``other`` (from CA ``wrong``)."""
    certs = tmp_path_factory.mktemp("tls")
    good, wrong = mint_ca(certs / "good", "good"), mint_ca(certs / "wrong", "wrong")
    catalog, other = _server(tmp_path_factory, good, "tls-catalog"), _server(tmp_path_factory, wrong, "tls-other")
    try:
        yield {"good": good, "wrong": wrong, "catalog": catalog, "other": other}
    finally:
        catalog.stop()
        other.stop()


def connect(uri: str, tls: dict, product_dir: Path | None = None, **credentials):
    from floe_plugin_catalog_polaris import runtime

    resolved, report = resolve_section("catalog", "polaris", {
        "uri": uri, "warehouse": "prod", "tls": tls, "retries": 0,
        "timeouts": {"connect_seconds": 5, "read_seconds": 10},
        "credentials": {"mode": "oauth2", "client_id": "floe",
                        "client_secret": {"secret_ref": "polaris-oauth"}, **credentials}})
    assert not [d for d in report.items if d.severity == "error"], report.items
    return runtime.connect(resolved.config, {"properties": {}}, Context(product_dir))


def test_a_ca_bundle_verifies_the_catalog_and_its_token_endpoint(tls_servers):
    server = tls_servers["catalog"]
    before = len(server.requests)
    catalog = connect(_https(server), {"ca_bundle": str(tls_servers["good"].ca_cert)})
    catalog.create_namespace_if_not_exists("tls")
    assert ("tls",) in catalog.list_namespaces()
    paths = [(method, path.removeprefix(PREFIX)) for method, path, _ in server.requests[before:]]
    # The token was fetched over the same verified HTTPS, then the config and the namespaces.
    assert paths[0] == ("POST", "/v1/oauth/tokens") and ("GET", "/v1/config") in paths


def test_a_wrong_ca_names_the_host_and_the_setting_to_change(tls_servers):
    server = tls_servers["catalog"]
    bundle = str(tls_servers["wrong"].ca_cert)
    with pytest.raises(FloeError) as failure:
        connect(_https(server), {"ca_bundle": bundle})
    host = _https(server).split("/")[2]
    assert str(failure.value) == (
        f"the Polaris catalog at {_https(server)}: the TLS certificate of {host} could not be "
        f"verified against the CA bundle {bundle} (catalogs.lakehouse.tls.ca_bundle) (unable to get "
        "local issuer certificate); set catalogs.lakehouse.tls.ca_bundle to the PEM file of the CA "
        "that signed it")


def test_without_a_ca_bundle_a_private_ca_fails_against_the_system_cas(tls_servers):
    server = tls_servers["catalog"]
    with pytest.raises(FloeError, match=r"could not be verified against the system's CA certificates "
                                        r"\(.+\); set catalogs.lakehouse.tls.ca_bundle"):
        connect(_https(server), {})


def test_a_token_endpoint_with_a_certificate_of_another_ca_is_the_host_named(tls_servers):
    catalog, other = tls_servers["catalog"], tls_servers["other"]
    token_endpoint = _https(other) + "/v1/oauth/tokens"
    with pytest.raises(FloeError) as failure:
        connect(_https(catalog), {"ca_bundle": str(tls_servers["good"].ca_cert)},
                token_endpoint=token_endpoint)
    assert f"the TLS certificate of {token_endpoint.split('/')[2]} could not be verified" in str(failure.value)


def test_a_relative_ca_bundle_is_the_products_file_wherever_the_run_started(tls_servers, tmp_path,
                                                                            monkeypatch):
    product = tmp_path / "shop"
    (product / "certs").mkdir(parents=True)
    shutil.copy(tls_servers["good"].ca_cert, product / "certs/ca.pem")
    monkeypatch.chdir(tmp_path)  # not the product: a code server starts anywhere
    catalog = connect(_https(tls_servers["catalog"]), {"ca_bundle": "certs/ca.pem"}, product_dir=product)
    catalog.create_namespace_if_not_exists("relative")  # over HTTPS verified with that file
    assert ("relative",) in catalog.list_namespaces()
    with pytest.raises(FloeError) as failure:
        connect(_https(tls_servers["catalog"]), {"ca_bundle": "certs/missing.pem"}, product_dir=product)
    assert str(failure.value).startswith(f"catalogs.lakehouse.tls.ca_bundle: no file at certs/missing.pem "
                                         f"({product / 'certs/missing.pem'}); point it at the PEM file")


def test_a_ca_bundle_that_is_not_there_names_the_setting(tls_servers, tmp_path):
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(FloeError) as failure:
        connect(_https(tls_servers["catalog"]), {"ca_bundle": str(missing)})
    assert str(failure.value) == (f"catalogs.lakehouse.tls.ca_bundle: no file at {missing}; point it "
                                  "at the PEM file of the CA that signed the catalog's certificate")


def test_verify_false_connects_and_warns_once(tls_servers, capfd):
    from urllib3.exceptions import InsecureRequestWarning

    server = tls_servers["catalog"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            catalog = connect(_https(server), {"verify": False})
            catalog.create_namespace_if_not_exists("unverified")
            catalog.list_namespaces()
    err = capfd.readouterr().err
    host = _https(server).split("/")[2]
    assert err.count("warning:") == 1, err
    assert err == (f"warning: catalogs.lakehouse.tls.verify is false: the certificate of {host} is "
                   "not checked, so anyone on the network path can impersonate the catalog; prefer "
                   "catalogs.lakehouse.tls.ca_bundle\n")
    assert not [w for w in caught if issubclass(w.category, InsecureRequestWarning)]
