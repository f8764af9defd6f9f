"""Secret backend ``env``: ``polaris-oauth`` is read from ``$POLARIS_OAUTH``.

``$POLARIS_OAUTH_FILE`` may name a file that holds the value instead (the Docker and Kubernetes
convention). Values are read only at run time.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import attrs

from floe.plugins import ResolveContext, hookimpl
from floe.schema.structure import Invalid, field_check
from floe.schema.types import SecretRef

if TYPE_CHECKING:
    from floe.runtime.secrets import SecretValue


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


@hookimpl
def floe_secrets_lookup(config: dict, ref: SecretRef) -> "SecretValue | None":
    """``$NAME``, else the file ``$NAME_FILE`` names (trailing newline dropped)."""
    from floe.runtime.secrets import SecretValue

    name = config.get("prefix", "") + ref.env_name
    if name in os.environ:
        return SecretValue(os.environ[name])
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            with open(file_name, encoding="utf-8") as fh:
                return SecretValue(fh.read().rstrip("\n"))
        except OSError:
            return None
    return None
