"""pytest fixtures for plugin authors, registered through the ``pytest11`` entry point."""

from __future__ import annotations

import os
import urllib.request
from typing import Any, Callable, Iterator

import pytest

from floe.plugins.manager import Plugin, PluginRegistry


@pytest.fixture
def floe_registry() -> PluginRegistry:
    """A fresh plugin registry: installed plugins plus what the test registers."""
    return PluginRegistry()


@pytest.fixture
def floe_register(floe_registry: PluginRegistry) -> Iterator[Callable[[str, str, Any], Plugin]]:
    """Register an in-process plugin object for this test: ``floe_register("compute", "x", obj)``."""
    added: list[tuple[str, str]] = []

    def register(kind: str, type_name: str, obj: Any) -> Plugin:
        added.append((kind, type_name))
        return floe_registry.register(kind, type_name, obj)

    yield register
    for kind, type_name in added:
        floe_registry.unregister(kind, type_name)


#: Environment variables that would point boto3 at real AWS or at a developer's profile.
_AWS_ENVIRONMENT = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                    "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ROLE_ARN",
                    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI")


@pytest.fixture(scope="session")
def floe_moto_server() -> Iterator[str]:
    """A moto server (AWS STS, Secrets Manager, S3, IAM) on 127.0.0.1, one per test session.

    Yields its endpoint URL (``http://127.0.0.1:<port>``). Skips when ``moto[server]`` is not
    installed. Use :func:`floe_moto` in tests: it resets the server's state first.
    """
    server_module = pytest.importorskip("moto.server", reason="pip install 'moto[server]'")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def floe_moto(floe_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's moto endpoint, emptied for this test, with fake AWS keys in the environment.

    boto3 in the test then signs with ``testing``/``testing`` in ``us-east-1`` and can reach
    nothing but what the test points at the endpoint: profiles, config files and the instance
    metadata service are switched off.
    """
    reset = urllib.request.Request(f"{floe_moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as response:
        response.read()
    for name in _AWS_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return floe_moto_server
