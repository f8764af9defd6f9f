"""The Trino catalog that opens a floe platform's Iceberg catalog and storage.

Trino's catalogs are configured on the cluster (``etc/catalog/<name>.properties``), not by the
client. :func:`iceberg_catalog` turns the properties floe's catalog and storage plugins give an
engine (``RunContext.engine_catalog_properties()`` / ``engine_storage_properties()``) into that
file's properties, so the platform team configures Trino from the same profiles floe uses.
"""

from __future__ import annotations

from typing import Any, Callable

from floe.diagnostics import FloeError


def iceberg_catalog(catalog: dict | None, storage: dict, secret: Callable[[Any], str]) -> dict[str, str]:
    """Properties of a Trino Iceberg catalog on floe's catalog and storage.

    :param catalog: the catalog's engine properties (``None``: only floe can open it).
    :param storage: the storage's engine properties.
    :param secret: turns a ``{"secret_ref": ...}`` mapping into its value (strings pass as they
        are); the values end up in the catalog file, which the platform keeps secret.
    :raises FloeError: when Trino cannot open the catalog or storage.
    """
    if catalog is None or catalog.get("type") != "rest":
        raise FloeError("Trino opens an Iceberg REST catalog; this platform's catalog profile is "
                        "one only floe can open (a local file): use a REST catalog profile")
    out = {"connector.name": "iceberg", "iceberg.catalog.type": "rest",
           "iceberg.rest-catalog.uri": catalog["uri"]}
    if catalog.get("warehouse"):
        out["iceberg.rest-catalog.warehouse"] = catalog["warehouse"]
    if "oauth2.client-secret" in catalog:
        out["iceberg.rest-catalog.security"] = "OAUTH2"
        out["iceberg.rest-catalog.oauth2.credential"] = (
            f"{secret(catalog['oauth2.client-id'])}:{secret(catalog['oauth2.client-secret'])}")
        out["iceberg.rest-catalog.oauth2.server-uri"] = catalog["oauth2-server-uri"]
        if catalog.get("scope"):
            out["iceberg.rest-catalog.oauth2.scope"] = catalog["scope"]
    if catalog.get("header.X-Iceberg-Access-Delegation") == "vended-credentials":
        out["iceberg.rest-catalog.vended-credentials-enabled"] = "true"
    warehouse = str(storage.get("warehouse", ""))
    if warehouse.startswith("s3://"):
        out["fs.native-s3.enabled"] = "true"
        for theirs, trinos in (("s3.endpoint", "s3.endpoint"), ("s3.region", "s3.region"),
                               ("s3.path-style-access", "s3.path-style-access")):
            if storage.get(theirs):
                out[trinos] = storage[theirs]
        if "s3.secret-access-key" in storage:
            out["s3.aws-access-key"] = secret(storage["s3.access-key-id"])
            out["s3.aws-secret-key"] = secret(storage["s3.secret-access-key"])
    elif warehouse.startswith("file:"):
        out["fs.native-local.enabled"] = "true"
        out["local.location"] = "/"
    else:
        raise FloeError(f"Trino cannot reach the storage at '{warehouse}': use S3 or a local path")
    return out
