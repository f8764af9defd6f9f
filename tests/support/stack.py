"""The loopback production stack: moto's S3 and the Iceberg REST catalog, both on 127.0.0.1.

Shared by tests/test_production_path.py and bench/production_path.py.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

from support.iceberg_rest import RestCatalogServer

#: The bucket the catalog's warehouse lives in.
BUCKET = "lake"


@contextlib.contextmanager
def loopback_stack(workdir: Path, client_secret: str, scopes: tuple[str, ...],
                   token_seconds: int = 3600) -> Iterator[dict]:
    """Start moto's S3 server and a REST catalog (a stand-in for Polaris) backed by it.

    Yields ``{"endpoint", "server", "fileio", "keys"}``: the S3 endpoint URL, the
    :class:`RestCatalogServer`, the pyiceberg FileIO properties for the bucket, and the AWS keys.
    """
    import boto3
    from moto.server import ThreadedMotoServer
    from pyiceberg.catalog.sql import SqlCatalog

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        keys = {"aws_access_key_id": "floe-test", "aws_secret_access_key": "floe-test-secret"}
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys).create_bucket(Bucket=BUCKET)
        fileio = {"s3.endpoint": endpoint, "s3.region": "us-east-1", "s3.force-virtual-addressing": "false",
                  "s3.access-key-id": keys["aws_access_key_id"],
                  "s3.secret-access-key": keys["aws_secret_access_key"]}
        backing = SqlCatalog("polaris", uri=f"sqlite:///{workdir / 'polaris.db'}",
                             warehouse=f"s3://{BUCKET}/polaris", **fileio)
        server = RestCatalogServer(backing, warehouse="prod", client_id="floe", client_secret=client_secret,
                                   scopes=scopes, token_seconds=token_seconds, vended=fileio).start()
        try:
            yield {"endpoint": endpoint, "server": server, "fileio": fileio, "keys": keys}
        finally:
            server.stop()
    finally:
        moto.stop()
