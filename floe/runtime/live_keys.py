"""Expiring storage keys handed to clients that are configured by properties, not by objects.

pyiceberg builds each table's FileIO from string properties, and dbt-duckdb builds its plugins
from the profile; neither can be given a credential provider directly. The run registers the
provider here and passes a *handle* instead (an opaque name, not a secret: it means nothing
outside this process); the client looks the provider up by handle and asks it for the current
keys whenever it opens a file or a connection, so keys refreshed by the provider reach it.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from typing import Any

from floe.runtime.credentials import AwsCredentials

#: The FileIO property that carries the handle.
HANDLE_PROPERTY = "floe.credentials-handle"

_lock = threading.Lock()
# Weak: a handle must not keep a finished run's provider (and its keys) alive.
_providers: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()
_handles: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()


def register(provider: Any) -> str:
    """The handle of ``provider`` (an object with ``credentials() -> AwsCredentials``)."""
    with _lock:
        handle = _handles.get(provider)
        if handle is None:
            handle = f"keys-{secrets.token_hex(8)}"
            _providers[handle] = provider
            _handles[provider] = handle
        return handle


def lookup(handle: str) -> Any | None:
    """The provider registered as ``handle``, or None once its run is over."""
    with _lock:
        return _providers.get(handle)


def current_keys(handle: str) -> AwsCredentials | None:
    """The provider's current keys (refreshed by it when they near expiry), or None."""
    provider = lookup(handle)
    return provider.credentials() if provider is not None else None


def s3_properties(keys: AwsCredentials) -> dict[str, str]:
    """pyiceberg's S3 FileIO properties for ``keys``, values revealed (keep them in memory)."""
    key_id = keys.access_key_id
    properties = {"s3.access-key-id": key_id if isinstance(key_id, str) else key_id.reveal(),
                  "s3.secret-access-key": keys.secret_access_key.reveal()}
    if keys.session_token is not None:
        properties["s3.session-token"] = keys.session_token.reveal()
    return properties
