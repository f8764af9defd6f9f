"""Keys from STS are refreshed in a running run, and the later writes use the new keys.

moto (tests/support/moto_iam.py) enforces IAM authentication: the identity floe runs as may
only assume a role, and only the role's keys may touch the bucket, so every write that succeeds
was signed by keys STS handed out. moto records which key id signed each request. STS keys live
at least 900 s; the tests shorten the refresh margin through ``FLOE_CREDENTIALS_REFRESH_MARGIN``
instead of waiting, so keys are refreshed every fraction of a second.
"""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from conftest import floe_subprocess
from support.moto_iam import s3_policy

from floe.runtime.credentials import MARGIN_ENV, AssumeRoleProvider, refresh_margin
from floe.runtime.refreshing_fileio import RefreshingFileIO
from floe.runtime import live_keys

ASSUME_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})

PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {{name: sts-keys, version: "1.0.0"}}
storage:
  default:
    type: s3
    bucket: {bucket}
    path: products
    region: us-east-1
    endpoint: {endpoint}
    path_style_access: true
    credentials:
      mode: iam_role
      role_arn: {role}
      duration_seconds: 900
      region: us-east-1
      sts_endpoint: {endpoint}
catalogs:
  default: {{type: sqlite, path: .floe/catalog.db}}
compute:
  default: {{type: duckdb, path: .floe/warehouse.duckdb, threads: 1, memory_limit: 2GB}}
orchestrator: {{type: dagster}}
secrets: {{backends: [env]}}
data_architecture: {{pattern: medallion, naming: {{enforcement: warn}}}}
governance:
  quality_gates: {{minimum_test_coverage: 0, block_on_failure: false}}
"""


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class NoSecrets:
    def secret(self, ref):  # pragma: no cover - iam_role without external_id needs none
        raise AssertionError("no secret expected")


@pytest.fixture(scope="module")
def sts_setup(moto_iam):
    """A bucket, a role allowed to write it, and an identity allowed only to assume the role."""
    moto_iam.client("s3").create_bucket(Bucket="refresh-lake")
    keys = moto_iam.user("refresh-runner", ASSUME_ONLY)
    role = moto_iam.role("refresh-writer", s3_policy("refresh-lake"), "refresh-runner")
    return {"keys": keys, "role": role, "bucket": "refresh-lake"}


def _writes(entries, agent):
    """Key ids of the data-changing S3 requests sent by the client whose user agent starts so."""
    return [e["key_id"] for e in entries if e["agent"].startswith(agent)
            and e["method"] in ("PUT", "POST") and "/refresh-lake/" in e["url"]]


def _distinct_in_order(values):
    return list(dict.fromkeys(values))


def test_the_refresh_margin_can_be_set_for_a_deployment_and_rejects_junk(monkeypatch):
    assert refresh_margin(900) == 90 and refresh_margin(3600) == 300
    monkeypatch.setenv(MARGIN_ENV, "600")
    assert refresh_margin(900) == 600
    monkeypatch.setenv(MARGIN_ENV, "soon")
    from floe.diagnostics import FloeError

    with pytest.raises(FloeError, match=f"{MARGIN_ENV}='soon' is not a number of seconds"):
        refresh_margin(900)


def test_fileio_follows_keys_the_provider_refreshed(moto_iam, sts_setup, monkeypatch):
    for name, value in sts_setup["keys"].items():
        monkeypatch.setenv(name.upper(), value)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    clock = Clock()
    provider = AssumeRoleProvider({"mode": "iam_role", "role_arn": sts_setup["role"], "duration_seconds": 900,
                                   "region": "us-east-1", "sts_endpoint": moto_iam.endpoint},
                                  NoSecrets(), clock=clock)
    first = provider.credentials()
    io = RefreshingFileIO({"s3.endpoint": moto_iam.endpoint, "s3.region": "us-east-1",
                           "s3.force-virtual-addressing": "false", **live_keys.s3_properties(first),
                           live_keys.HANDLE_PROPERTY: live_keys.register(provider)})
    mark = moto_iam.mark()
    with io.new_output("s3://refresh-lake/unit/one.bin").create(overwrite=True) as out:
        out.write(b"one")
    clock.now += 900 - 90 + 1  # past the refresh point of 900-second keys
    with io.new_output("s3://refresh-lake/unit/two.bin").create(overwrite=True) as out:
        out.write(b"two")
    second = provider.credentials()
    assert provider.fetches == 2 and second.access_key_id != first.access_key_id
    keys = _distinct_in_order(_writes(moto_iam.recorded(mark), "aws-sdk-cpp"))
    assert keys == [first.access_key_id, second.access_key_id]
    # Both files are readable with the current keys; the old ones were not reused.
    assert io.new_input("s3://refresh-lake/unit/one.bin").open().read() == b"one"


def test_a_fileio_whose_run_is_over_keeps_its_filesystems():
    io = RefreshingFileIO({live_keys.HANDLE_PROPERTY: "keys-of-a-finished-run"})
    assert io.fs_by_scheme("file", None) is io.fs_by_scheme("file", None)


def _product(demo, sts_setup, moto_iam):
    platform = demo / "platform" / "sts"
    platform.mkdir()
    (platform / "platform.yaml").write_text(PLATFORM.format(
        bucket=sts_setup["bucket"], endpoint=moto_iam.endpoint, role=sts_setup["role"]))
    # A chain of models that each write a file to S3 through DuckDB, one after the other.
    models = demo / "dbt" / "models" / "gold"
    previous = "gold_revenue_by_country"
    for number in range(1, 7):
        (models / f"gold_s3_copy_{number}.sql").write_text(textwrap.dedent(f"""\
            {{{{ config(post_hook="COPY (select * from {{{{ this }}}}) TO
               's3://{sts_setup['bucket']}/duckdb/{{{{ this.name }}}}.parquet' (FORMAT parquet)") }}}}
            select * from {{{{ ref('{previous}') }}}}
            """))
        previous = f"gold_s3_copy_{number}"
    return demo


def test_a_run_outliving_its_first_keys_keeps_writing_with_refreshed_keys(demo, moto_iam, sts_setup):
    product = _product(demo, sts_setup, moto_iam)
    env = {**{name.upper(): value for name, value in sts_setup["keys"].items()},
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           # Keys of 900 s refreshed 900 s before they expire: every client asking for keys gets new
           # ones, so each DuckDB node and each table written starts on keys never used before.
           MARGIN_ENV: "900"}
    mark = moto_iam.mark()
    result = floe_subprocess(["run", "--env", "sts"], product, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    entries = moto_iam.recorded(mark)
    assumed = [e for e in entries if b"Action=AssumeRole" in e["body"]]
    assert len(assumed) >= 2
    assert {e["key_id"] for e in assumed} == {sts_setup["keys"]["aws_access_key_id"]}
    # Only the role's keys may write (moto enforces it), and the runner's keys only assume it.
    # pyiceberg (aws-sdk-cpp, through pyarrow) wrote with many keys, its last writes on a later
    # key than its first; each DuckDB node's copy was signed with a key of its own.
    pyiceberg = _writes(entries, "aws-sdk-cpp")
    assert len(_distinct_in_order(pyiceberg)) >= 3 and pyiceberg[-1] != pyiceberg[0]
    duckdb = _writes(entries, "duckdb")
    assert len(duckdb) >= 6 and len(_distinct_in_order(duckdb)) == len(duckdb), duckdb
    assert all(key.startswith("ASIA") for key in pyiceberg + duckdb)  # STS keys, not the runner's
    catalog = SqlCatalog("floe", uri=f"sqlite:///{product / '.floe/catalog.db'}",
                         **{"s3.endpoint": moto_iam.endpoint, "s3.region": "us-east-1",
                            "s3.force-virtual-addressing": "false"}, **_role_keys(moto_iam, sts_setup))
    copied = catalog.load_table("gold.gold_s3_copy_6").scan().to_arrow()
    assert copied.num_rows == catalog.load_table("gold.gold_revenue_by_country").scan().to_arrow().num_rows > 0
    assert sts_setup["keys"]["aws_secret_access_key"] not in result.stdout + result.stderr
    shutil.rmtree(product / ".floe", ignore_errors=True)


def _role_keys(moto_iam, sts_setup):
    creds = moto_iam.client("sts", sts_setup["keys"]).assume_role(
        RoleArn=sts_setup["role"], RoleSessionName="check")["Credentials"]
    return {"s3.access-key-id": creds["AccessKeyId"], "s3.secret-access-key": creds["SecretAccessKey"],
            "s3.session-token": creds["SessionToken"]}
