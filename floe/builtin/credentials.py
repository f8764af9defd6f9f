"""Credential modes: how a storage or catalog profile authenticates.

Each mode is a plugin object of its own (``floe.credentials`` entry points name the
:class:`CredentialMode` instances at the bottom). Sensitive values are typed :class:`~floe.schema.types.SecretRef`, so a literal secret is
refused at validation time and only the reference reaches CompiledArtifacts. At run time each
mode provides a credential provider (:mod:`floe.runtime.credentials`, imported only then).
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from floe.plugins import ResolveContext, hookimpl
from floe.schema.structure import Invalid, field_check
from floe.schema.types import SecretRef
from floe.schema.urls import check_http_url

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{1,12}:role/[\w+=,.@/-]{1,512}")


@field_check
def _role_arn(value: str) -> None:
    if not _ROLE_ARN.fullmatch(value):
        raise Invalid(f"'{value}' is not an IAM role ARN (arn:aws:iam::<account id>:role/<name>)")


@field_check
def _duration(value: int) -> None:
    if not 900 <= value <= 43200:
        raise Invalid(f"{value} is outside STS's range of 900 to 43200 seconds")


@field_check
def _optional_url(value: str | None) -> None:
    if value is not None:
        check_http_url(value, "the OAuth2 token URL, e.g. https://idp.example.com/oauth/token")


@field_check
def _sts_endpoint(value: str | None) -> None:
    if value is not None:
        check_http_url(value, "e.g. https://sts.eu-central-1.amazonaws.com, or leave sts_endpoint "
                       "out for AWS's own", "let STS authenticate with the environment's identity")


def _to_json(settings: object) -> dict:
    # SecretRef values stay references; the core turns them into {secret_ref: ...} mappings.
    return {k: v for k, v in attrs.asdict(settings, recurse=False).items() if v is not None}


@attrs.frozen
class StaticSettings:
    """Long-lived keys, both held in the secret backends."""

    access_key_id: str | SecretRef
    secret_access_key: SecretRef
    session_token: SecretRef | None = None


@attrs.frozen
class OAuth2Settings:
    """OAuth2 client credentials; the token endpoint defaults to the catalog's own."""

    client_id: str | SecretRef
    client_secret: SecretRef
    scope: str | None = None
    token_endpoint: str | None = attrs.field(default=None, validator=_optional_url)
    audience: str | None = None


@attrs.frozen
class IamRoleSettings:
    """An IAM role to assume with STS."""

    role_arn: str = attrs.field(validator=_role_arn)
    session_name: str = "floe"
    duration_seconds: int = attrs.field(default=3600, validator=_duration)
    external_id: SecretRef | None = None
    region: str | None = None
    sts_endpoint: str | None = attrs.field(default=None, validator=_sts_endpoint)


@attrs.frozen
class ServiceAccountSettings:
    """Workload identity: a web-identity token file exchanged for a role."""

    role_arn: str = attrs.field(validator=_role_arn)
    token_file: str = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
    session_name: str = "floe"
    duration_seconds: int = attrs.field(default=3600, validator=_duration)
    region: str | None = None
    sts_endpoint: str | None = attrs.field(default=None, validator=_sts_endpoint)


class CredentialMode:
    """One credential mode as a plugin object: its settings and its run-time provider.

    Every mode resolves to its settings with the secret references left as they are; they differ
    only in what they accept and in the provider that turns them into credentials at run time.
    """

    def __init__(self, name: str, settings: type | None, provider: str):
        self.name = name
        self._settings = settings
        self._provider = provider

    def __repr__(self) -> str:
        return f"CredentialMode({self.name!r})"

    @hookimpl
    def floe_credentials_settings(self) -> type | None:
        """The attrs class of this mode's settings (None: it takes none)."""
        return self._settings

    @hookimpl
    def floe_credentials_resolve(self, settings: Any, context: ResolveContext) -> dict:
        """The settings as written, secret references unchanged."""
        return _to_json(settings) if settings is not None else {}

    @hookimpl
    def floe_credentials_provide(self, config: dict, context: Any) -> Any:
        """The mode's provider from :mod:`floe.runtime.credentials` (imported only now)."""
        from floe.runtime import credentials

        return getattr(credentials, self._provider)(config, context)


#: ``static``: an access key id and secret key from secret references.
Static = CredentialMode("static", StaticSettings, "StaticProvider")
#: ``oauth2``: the client-credentials flow, the token refreshed before it expires.
OAuth2 = CredentialMode("oauth2", OAuth2Settings, "OAuth2Provider")
#: ``iam_role``: STS AssumeRole yields short-lived keys, assumed again before they expire.
IamRole = CredentialMode("iam_role", IamRoleSettings, "AssumeRoleProvider")
#: ``service_account``: STS AssumeRoleWithWebIdentity from a projected token file.
ServiceAccount = CredentialMode("service_account", ServiceAccountSettings, "WebIdentityProvider")
#: ``vended_credentials``: the catalog hands out short-lived storage keys with each table.
VendedCredentials = CredentialMode("vended_credentials", None, "VendedProvider")
