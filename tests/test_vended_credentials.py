"""Keys the catalog vends are the keys that write the data, and nothing else can.

moto enforces IAM authentication (tests/support/moto_iam.py): the REST stand-in for Polaris
(tests/support/iceberg_rest.py; no Polaris runs here) keeps its metadata with keys of its own
service user and vends, with each table it loads, short-lived keys of a role allowed to write the
bucket (STS AssumeRole, as Polaris does). floe's process has no AWS keys at all: whatever it
writes, it writes with vended keys, and moto's request recording shows which.
"""

from __future__ import annotations

import json

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from conftest import floe_subprocess
from support.iceberg_rest import RestCatalogServer
from support.moto_iam import s3_policy

from floe.init import scaffold

BUCKET = "vended-lake"
CLIENT_SECRET = "vended-client-secret"
READ_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]})

PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {{name: vended, version: "1.0.0"}}
storage:
  default:
    type: s3
    bucket: {bucket}
    path: products
    region: us-east-1
    endpoint: {endpoint}
    path_style_access: true
    credentials: {{mode: vended_credentials}}
catalogs:
  default:
    type: polaris
    uri: {uri}
    warehouse: prod
    credentials: {{mode: oauth2, client_id: floe, client_secret: {{secret_ref: polaris-oauth}}}}
    access_delegation: vended-credentials
    retries: 0
compute:
  default: {{type: duckdb, path: .floe/warehouse.duckdb, threads: 2, memory_limit: 2GB}}
orchestrator: {{type: dagster}}
secrets: {{backends: [env]}}
data_architecture: {{pattern: medallion, naming: {{enforcement: warn}}}}
governance:
  quality_gates: {{minimum_test_coverage: 0, block_on_failure: false}}
"""


def _vend(moto_iam, role_arn: str, service_keys: dict) -> dict[str, str]:
    """What the catalog puts in a table's config: keys of ``role_arn``, assumed as the service."""
    creds = moto_iam.client("sts", service_keys).assume_role(
        RoleArn=role_arn, RoleSessionName="polaris-vended", DurationSeconds=900)["Credentials"]
    return {"s3.access-key-id": creds["AccessKeyId"], "s3.secret-access-key": creds["SecretAccessKey"],
            "s3.session-token": creds["SessionToken"]}


@pytest.fixture(scope="module")
def vending(moto_iam, tmp_path_factory):
    """The REST stand-in with its own S3 service user, vending keys of role ``vended-writer``."""
    moto_iam.client("s3").create_bucket(Bucket=BUCKET)
    service = moto_iam.user("polaris-service", json.dumps({"Version": "2012-10-17", "Statement": [
        json.loads(s3_policy(BUCKET))["Statement"][0],
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    writer = moto_iam.role("vended-writer", s3_policy(BUCKET), "polaris-service")
    reader = moto_iam.role("vended-reader", READ_ONLY, "polaris-service")
    location = {"s3.endpoint": moto_iam.endpoint, "s3.region": "us-east-1", "s3.force-virtual-addressing": "false"}
    work = tmp_path_factory.mktemp("vending")
    backing = SqlCatalog("polaris", uri=f"sqlite:///{work / 'polaris.db'}", warehouse=f"s3://{BUCKET}/polaris",
                         **location, **{"s3.access-key-id": service["aws_access_key_id"],
                                        "s3.secret-access-key": service["aws_secret_access_key"]})
    server = RestCatalogServer(backing, warehouse="prod", client_id="floe", client_secret=CLIENT_SECRET,
                               scopes=("catalog",)).start()  # pyiceberg asks for "catalog" by default
    try:
        yield {"server": server, "service": service, "writer": writer, "reader": reader, "location": location}
    finally:
        server.stop()


def _product(tmp_path, moto_iam, vending):
    product = tmp_path / "shop"
    scaffold(product, name="shop")
    (product / "platform" / "prod").mkdir()
    (product / "platform" / "prod" / "platform.yaml").write_text(PLATFORM.format(
        bucket=BUCKET, endpoint=moto_iam.endpoint, uri=vending["server"].url))
    return product


#: floe's process gets no AWS keys of its own: only what the catalog vends can sign a request.
ENV = {"POLARIS_OAUTH": CLIENT_SECRET, "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "",
       "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_CONFIG_FILE": "/dev/null",
       "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


def test_the_vended_keys_write_the_data(tmp_path, moto_iam, vending):
    vended = _vend(moto_iam, vending["writer"], vending["service"])
    vending["server"].vended = {**vending["location"], **vended}
    product = _product(tmp_path, moto_iam, vending)
    mark = moto_iam.mark()
    result = floe_subprocess(["run", "--env", "prod"], product, env=ENV, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    writes = [e for e in moto_iam.recorded(mark) if e["method"] in ("PUT", "POST")
              and f"/{BUCKET}/" in e["url"]]
    data_files = [e for e in writes if "/data/" in e["url"]]
    # Five tables, each with data files, all signed with the vended key and no other.
    assert len({e["url"].split("/data/")[0] for e in data_files}) == 5
    assert {e["key_id"] for e in data_files} == {vended["s3.access-key-id"]}
    # The catalog's own metadata writes use its service keys: the two principals are distinct.
    assert {e["key_id"] for e in writes} == {vended["s3.access-key-id"], vending["service"]["aws_access_key_id"]}
    for secret in (vended["s3.secret-access-key"], vended["s3.session-token"], CLIENT_SECRET):
        assert secret not in result.stdout + result.stderr


def test_a_catalog_that_vends_no_keys_fails_naming_what_to_check(tmp_path, moto_iam, vending):
    vending["server"].vended = dict(vending["location"])
    product = _product(tmp_path, moto_iam, vending)
    result = floe_subprocess(["run", "--env", "prod"], product, env=ENV, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (f"the Polaris catalog at {vending['server'].url} sent no storage credentials for "
            f"s3://{BUCKET}/polaris/") in result.stderr
    assert ("though floe asked it to vend them (access_delegation: vended-credentials); check that "
            "the catalog's storage configuration allows credential vending") in result.stderr


def test_vended_keys_without_write_access_fail_naming_what_to_check(tmp_path, moto_iam, vending):
    vended = _vend(moto_iam, vending["reader"], vending["service"])
    vending["server"].vended = {**vending["location"], **vended}
    product = _product(tmp_path, moto_iam, vending)
    result = floe_subprocess(["run", "--env", "prod"], product, env=ENV, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"S3 refused to write s3://{BUCKET}/polaris/" in result.stderr
    assert (f"(ACCESS_DENIED) with the storage keys the Polaris catalog at {vending['server'].url} "
            "vended; check that the role or user the catalog vends keys of may write there") in result.stderr
    assert vended["s3.secret-access-key"] not in result.stderr
