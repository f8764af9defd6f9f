"""Checks for URLs written in platform.yaml (catalog URIs, S3 and AWS endpoints, token URLs)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from floe.schema.structure import Invalid

#: Hosts where plain http never leaves the machine.
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def check_http_url(value: str, example: str,
                   userinfo_hint: str = "reference the credentials as secrets instead") -> SplitResult:
    """Refuse anything but a plain ``http(s)://host[:port][/path]`` URL; return its parts.

    ``example`` completes the message (``e.g. https://polaris:8181/api/catalog``). A URL with a
    user name or password is refused without echoing it (what precedes ``@`` is likely secret),
    with ``userinfo_hint`` saying how to authenticate instead.
    """
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - urlsplit validates the port only when it is read
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname \
            or any(ch.isspace() for ch in value):
        raise Invalid(f"'{value}' is not an http(s) URL; write {example}")
    if parts.username or parts.password:
        raise Invalid(f"the URL contains a user name or password; remove it and {userinfo_hint}")
    return parts


def is_insecure(parts: SplitResult) -> bool:
    """True for plain http to a host other than this machine."""
    return parts.scheme == "http" and parts.hostname not in LOOPBACK
