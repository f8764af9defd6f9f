"""Credential modes for a Trino compute profile: ``password`` (basic/LDAP) and ``jwt``.

Both only carry secret references: at run time dbt-trino receives the secret through an
``env_var()`` reference in its profile, never through a file, so no provider is needed.
A Trino profile also takes floe's own ``oauth2`` mode (``floe.builtin.credentials.OAuth2``),
whose provider obtains the token at run time (see :mod:`.plugin`).
"""

from __future__ import annotations

from typing import Any

import attrs

from floe.plugins import ResolveContext, hookimpl
from floe.schema.types import SecretRef


@attrs.frozen
class PasswordSettings:
    """A Trino user and password (Trino's PASSWORD authentication: a file, LDAP, ...)."""

    password: SecretRef
    user: str | None = None


@attrs.frozen
class JwtSettings:
    """A JSON Web Token Trino's JWT authentication accepts."""

    token: SecretRef


class _Mode:
    def __init__(self, name: str, settings: type):
        self.name = name
        self._settings = settings

    def __repr__(self) -> str:
        return f"TrinoCredentialMode({self.name!r})"

    @hookimpl
    def floe_credentials_settings(self) -> type:
        """The attrs class of this mode's settings."""
        return self._settings

    @hookimpl
    def floe_credentials_resolve(self, settings: Any, context: ResolveContext) -> dict:
        """The settings as written; secret references stay references."""
        return {k: v for k, v in attrs.asdict(settings, recurse=False).items() if v is not None}


#: ``password``: Trino's basic (password file or LDAP) authentication.
Password = _Mode("password", PasswordSettings)
#: ``jwt``: a bearer token Trino's JWT authenticator verifies.
Jwt = _Mode("jwt", JwtSettings)
