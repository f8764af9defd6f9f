"""Secret backend ``aws``: AWS Secrets Manager, or a compatible endpoint such as moto.

The compile-time checks live here; lookups are in :mod:`.runtime`, imported (with boto3) only
when a run looks a secret up.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from floe.plugins import ResolveContext, hookimpl
from floe.schema.structure import Invalid, field_check
from floe.schema.urls import check_http_url, is_insecure

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
#: Characters Secrets Manager allows in a secret name.
_PREFIX = re.compile(r"[A-Za-z0-9/_+=.@-]*")


@field_check
def _region(value: str | None) -> None:
    if value is not None and not _REGION.fullmatch(value):
        raise Invalid(f"'{value}' is not an AWS region; write e.g. us-east-1 or eu-central-1, or "
                      "leave region out to use the environment's (AWS_REGION)")


@field_check
def _endpoint(value: str | None) -> None:
    if value is not None:
        check_http_url(value, "e.g. http://localhost:5000 for a local moto server, or leave "
                       "endpoint out for AWS itself",
                       "let the backend authenticate with the AWS credentials of the environment")


@field_check
def _prefix(value: str) -> None:
    if not _PREFIX.fullmatch(value) or len(value) > 256:
        raise Invalid(f"'{value}' is not a valid secret name prefix: use at most 256 letters, digits "
                      "and / _ + = . @ -, e.g. floe/prod/")


@field_check
def _cache_seconds(value: int) -> None:
    if value < 0:
        raise Invalid(f"cache_seconds must be 0 (no caching) or more, got {value}")


@attrs.frozen
class AwsBackend:
    """Where Secrets Manager is, how secret ids are prefixed and how long values are cached."""

    region: str | None = attrs.field(default=None, validator=_region)
    endpoint: str | None = attrs.field(default=None, validator=_endpoint)
    prefix: str = attrs.field(default="", validator=_prefix)
    cache_seconds: int = attrs.field(default=300, validator=_cache_seconds)


@hookimpl
def floe_secrets_settings() -> type:
    """The aws backend: ``region``, ``endpoint``, ``prefix`` and ``cache_seconds``."""
    return AwsBackend


@hookimpl
def floe_secrets_resolve(settings: AwsBackend, context: ResolveContext) -> dict:
    """Resolve to the client settings run time uses; unset region and endpoint stay null."""
    if settings.endpoint is not None:
        if is_insecure(check_http_url(settings.endpoint, "")):
            context.warn(("endpoint",), f"'{settings.endpoint}' is plain http: secret values would "
                         "travel unencrypted to a host other than this machine; use https")
    return {"region": settings.region, "endpoint": settings.endpoint, "prefix": settings.prefix,
            "cache_seconds": settings.cache_seconds}


@hookimpl
def floe_secrets_lookup(config: dict, ref: Any) -> Any:
    """GetSecretValue of ``<prefix><ref>``; with ``key``, that field of the JSON secret."""
    from floe_plugin_secrets_aws import runtime

    return runtime.lookup(config, ref)


@hookimpl
def floe_secrets_describe(config: dict, ref: Any) -> list[str]:
    """The secret id (and key), with region and endpoint."""
    from floe_plugin_secrets_aws import runtime

    return [runtime.places_looked(config, ref)]
