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


def _name(config: dict, ref: SecretRef) -> str:
    return config.get("prefix", "") + ref.env_var_name


@hookimpl
def floe_secrets_lookup(config: dict, ref: SecretRef) -> "SecretValue | None":
    """``$NAME``, else the file ``$NAME_FILE`` names (trailing newline dropped); empty is unset.

    A ``$NAME_FILE`` that names an unreadable file is an error, not a miss: the secret was
    meant to be there.
    """
    from floe.diagnostics import FloeError
    from floe.runtime.secrets import SecretValue, read_secret_file, ref_label

    name = _name(config, ref)
    # An empty variable counts as unset: no secret is empty, and `NAME=` is how a shell or a
    # manifest template says "not provided here".
    if os.environ.get(name):
        return SecretValue(os.environ[name])
    file_name = os.environ.get(f"{name}_FILE")
    if not file_name:
        return None
    try:
        return read_secret_file(file_name)
    except OSError as exc:
        raise FloeError(f"secret {ref_label(ref)}: ${name}_FILE names {file_name}, which cannot "
                        f"be read ({exc.strerror or type(exc).__name__}); fix the path or unset "
                        f"{name}_FILE") from None


@hookimpl
def floe_secrets_describe(config: dict, ref: SecretRef) -> list[str]:
    """``$NAME`` and ``$NAME_FILE``."""
    name = _name(config, ref)
    return [f"${name}", f"${name}_FILE"]
