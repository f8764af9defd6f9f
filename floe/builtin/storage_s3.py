"""Storage ``s3``: an S3 bucket (AWS, or any S3-compatible endpoint such as MinIO)."""

from __future__ import annotations

import re
from typing import Any

import attrs

from floe.plugins import ResolveContext, hookimpl
from floe.schema.structure import Invalid, field_check
from floe.schema.urls import check_http_url

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
#: Modes that yield S3 keys; oauth2 authenticates to catalogs, not to S3.
MODES = ("static", "iam_role", "service_account", "vended_credentials")


@field_check
def _bucket(value: str) -> None:
    if not _BUCKET.fullmatch(value) or ".." in value:
        raise Invalid(f"'{value}' is not a valid S3 bucket name (3-63 lowercase letters, digits, "
                      "'.' and '-')")


@field_check
def _endpoint(value: str) -> None:
    if value:
        check_http_url(value, "e.g. http://minio:9000, or leave it empty for AWS S3")


@attrs.frozen
class S3Storage:
    """An S3 bucket and prefix; ``endpoint`` empty means AWS itself."""

    bucket: str = attrs.field(validator=_bucket)
    path: str = ""
    region: str | None = None
    endpoint: str = attrs.field(default="", validator=_endpoint)
    path_style_access: bool = False


@hookimpl
def floe_storage_settings() -> type:
    """S3 storage: bucket, optional prefix, region, endpoint and addressing style."""
    return S3Storage


@hookimpl
def floe_storage_resolve(settings: S3Storage, context: ResolveContext) -> dict:
    """Resolve to the warehouse location plus the FileIO properties pyiceberg and DuckDB use."""
    if settings.region is not None and not _REGION.fullmatch(settings.region):
        context.warn(("region",), f"'{settings.region}' does not look like an AWS region "
                     "(e.g. us-east-1)")
    credentials = context.credentials
    if credentials is not None and credentials.get("mode") not in MODES:
        context.error(("credentials", "mode"), f"s3 storage cannot use credentials mode "
                      f"'{credentials.get('mode')}'; use one of {', '.join(MODES)}")
    prefix = settings.path.strip("/")
    fileio = {"s3.force-virtual-addressing": not settings.path_style_access}
    if settings.endpoint:
        fileio["s3.endpoint"] = settings.endpoint
    if settings.region:
        fileio["s3.region"] = settings.region
    return {
        "scheme": "s3",
        "bucket": settings.bucket,
        "path": prefix,
        "warehouse": f"s3://{settings.bucket}/{prefix}".rstrip("/"),
        "region": settings.region,
        "endpoint": settings.endpoint,
        "path_style_access": settings.path_style_access,
        "fileio": fileio,
        "credentials": credentials,
    }


@hookimpl
def floe_storage_connect(config: dict, context: Any) -> dict:
    """The warehouse URI and pyiceberg's S3 FileIO properties, keys from the credential mode.

    Keys live only in this process's memory. A mode with none up front (``vended_credentials``:
    the catalog sends keys with each table it loads) adds none. Keys that expire (``iam_role``,
    ``service_account``) come with a FileIO that follows the provider's refreshed keys, so the
    properties copied here at connect time do not go stale in a long run.
    """
    properties = {key: str(value).lower() if isinstance(value, bool) else str(value)
                  for key, value in config["fileio"].items()}
    credentials = config.get("credentials")
    provider = context.credentials(credentials) if credentials else None
    keys = provider.credentials() if provider is not None else None
    if keys is not None:
        from floe.runtime import live_keys

        properties.update(live_keys.s3_properties(keys))
        if keys.expiration is not None:
            properties.update(_refreshing_fileio(provider))
    return {"warehouse": config["warehouse"], "properties": properties}


def _refreshing_fileio(provider: Any) -> dict[str, str]:
    """FileIO properties that make pyiceberg ask ``provider`` for current keys on each file."""
    from floe.runtime import live_keys
    from floe.runtime.refreshing_fileio import IMPL

    return {"py-io-impl": IMPL, live_keys.HANDLE_PROPERTY: live_keys.register(provider)}


@hookimpl
def floe_storage_engine_properties(config: dict, context: Any) -> dict:
    """The bucket's endpoint, region and addressing for an engine, keys as secret references.

    Only ``static`` keys can be handed over up front; with any other mode the engine uses its
    own credential chain (or the keys the catalog vends with each table).
    """
    properties: dict[str, Any] = {"warehouse": config["warehouse"],
                                  "s3.path-style-access": str(bool(config.get("path_style_access"))).lower()}
    if config.get("endpoint"):
        properties["s3.endpoint"] = config["endpoint"]
    if config.get("region"):
        properties["s3.region"] = config["region"]
    credentials = config.get("credentials") or {}
    if credentials.get("mode") == "static":
        properties["s3.access-key-id"] = credentials["access_key_id"]
        properties["s3.secret-access-key"] = credentials["secret_access_key"]
        if credentials.get("session_token"):
            properties["s3.session-token"] = credentials["session_token"]
    return properties
