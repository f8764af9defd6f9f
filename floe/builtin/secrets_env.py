"""Secret backend ``env``: ``polaris-oauth`` is read from ``$POLARIS_OAUTH``.

``$POLARIS_OAUTH_FILE`` may name a file that holds the value instead (the Docker and Kubernetes
convention). Values are read only at run time.
"""

from __future__ import annotations

import re

import attrs

from floe.plugins import ResolveContext, hookimpl
from floe.schema.structure import Invalid, field_check


@field_check
def _prefix(value: str) -> None:
    if value and not re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):
        raise Invalid(f"'{value}' is not a valid environment variable prefix (A-Z, 0-9, _)")


@attrs.frozen
class EnvBackend:
    """``prefix``: prepended to every variable name (``FLOE_`` → ``FLOE_POLARIS_OAUTH``)."""

    prefix: str = attrs.field(default="", validator=_prefix)


@hookimpl
def floe_secrets_settings() -> type:
    """The env backend takes an optional variable-name ``prefix``."""
    return EnvBackend


@hookimpl
def floe_secrets_resolve(settings: EnvBackend, context: ResolveContext) -> dict:
    """Resolve to the prefix run time prepends."""
    return {"prefix": settings.prefix}
