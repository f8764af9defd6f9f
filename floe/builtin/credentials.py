"""Credential modes: how a storage or catalog profile authenticates.

Each mode is a plugin object of its own (``floe.credentials`` entry points name the classes
below). Sensitive values are typed :class:`~floe.schema.types.SecretRef`, so a literal secret is
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


class Static:
    """``static``: an access key id and secret key from secret references."""

    @staticmethod
    @hookimpl
    def floe_credentials_settings() -> type:
        """Static keys: ``access_key_id`` and ``secret_access_key``."""
        return StaticSettings

    @staticmethod
    @hookimpl
    def floe_credentials_resolve(settings: StaticSettings, context: ResolveContext) -> dict:
        """The references, unchanged."""
        return _to_json(settings)

    @staticmethod
    @hookimpl
    def floe_credentials_provide(config: dict, context: Any) -> Any:
        """Keys resolved through the secret backends when first asked for."""
        from floe.runtime import credentials

        return credentials.StaticProvider(config, context)


@attrs.frozen
class OAuth2Settings:
    """OAuth2 client credentials; the token endpoint defaults to the catalog's own."""

    client_id: str | SecretRef
    client_secret: SecretRef
    scope: str | None = None
    token_endpoint: str | None = attrs.field(default=None, validator=_optional_url)
    audience: str | None = None


class OAuth2:
    """``oauth2``: the client-credentials flow, refreshed before the token expires."""

    @staticmethod
    @hookimpl
    def floe_credentials_settings() -> type:
        """OAuth2: ``client_id``, ``client_secret`` (a reference), ``scope``, ``token_endpoint``."""
        return OAuth2Settings

    @staticmethod
    @hookimpl
    def floe_credentials_resolve(settings: OAuth2Settings, context: ResolveContext) -> dict:
        """The client id, secret reference, scope and endpoint."""
        return _to_json(settings)

    @staticmethod
    @hookimpl
    def floe_credentials_provide(config: dict, context: Any) -> Any:
        """A client-credentials token client: cached, refreshed before expiry."""
        from floe.runtime import credentials

        return credentials.OAuth2Provider(config, context)


@attrs.frozen
class IamRoleSettings:
    """An IAM role to assume with STS."""

    role_arn: str = attrs.field(validator=_role_arn)
    session_name: str = "floe"
    duration_seconds: int = attrs.field(default=3600, validator=_duration)
    external_id: SecretRef | None = None
    region: str | None = None
    sts_endpoint: str | None = attrs.field(default=None, validator=_sts_endpoint)


class IamRole:
    """``iam_role``: STS AssumeRole yields short-lived keys, refreshed before expiry."""

    @staticmethod
    @hookimpl
    def floe_credentials_settings() -> type:
        """IAM role: ``role_arn``, ``session_name``, ``duration_seconds``, ``external_id``."""
        return IamRoleSettings

    @staticmethod
    @hookimpl
    def floe_credentials_resolve(settings: IamRoleSettings, context: ResolveContext) -> dict:
        """The role and session parameters."""
        return _to_json(settings)

    @staticmethod
    @hookimpl
    def floe_credentials_provide(config: dict, context: Any) -> Any:
        """STS AssumeRole keys, assumed again before they expire."""
        from floe.runtime import credentials

        return credentials.AssumeRoleProvider(config, context)


@attrs.frozen
class ServiceAccountSettings:
    """Workload identity: a web-identity token file exchanged for a role."""

    role_arn: str = attrs.field(validator=_role_arn)
    token_file: str = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
    session_name: str = "floe"
    duration_seconds: int = attrs.field(default=3600, validator=_duration)
    region: str | None = None
    sts_endpoint: str | None = attrs.field(default=None, validator=_sts_endpoint)


class ServiceAccount:
    """``service_account``: STS AssumeRoleWithWebIdentity from a projected token file."""

    @staticmethod
    @hookimpl
    def floe_credentials_settings() -> type:
        """Service account: ``role_arn`` and the ``token_file`` to read."""
        return ServiceAccountSettings

    @staticmethod
    @hookimpl
    def floe_credentials_resolve(settings: ServiceAccountSettings, context: ResolveContext) -> dict:
        """The role, token file and session parameters."""
        return _to_json(settings)

    @staticmethod
    @hookimpl
    def floe_credentials_provide(config: dict, context: Any) -> Any:
        """STS AssumeRoleWithWebIdentity keys from the token file, refreshed before expiry."""
        from floe.runtime import credentials

        return credentials.WebIdentityProvider(config, context)


class VendedCredentials:
    """``vended_credentials``: the catalog hands out short-lived storage keys per table."""

    @staticmethod
    @hookimpl
    def floe_credentials_settings() -> None:
        """Vended credentials take no settings."""
        return None

    @staticmethod
    @hookimpl
    def floe_credentials_resolve(settings: None, context: ResolveContext) -> dict:
        """Nothing to resolve: the catalog profile must ask for delegation."""
        return {}

    @staticmethod
    @hookimpl
    def floe_credentials_provide(config: dict, context: Any) -> Any:
        """A marker provider: the catalog vends the keys with each table."""
        from floe.runtime import credentials

        return credentials.VendedProvider()
