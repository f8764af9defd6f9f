"""A moto server on 127.0.0.1 that enforces IAM authentication and records every request.

The shared moto of the test kit accepts any key, so it cannot show *which* keys wrote the data.
This one runs in its own process (moto's authentication switch is process-wide) with request
recording on: once :meth:`MotoIam.enforce` has run, a request signed with an unknown key, a
wrong secret or a key whose policies do not allow the action is refused, and
:meth:`MotoIam.recorded` tells which access key id signed each request that reached it.

Principals are made with the ``admin`` user's keys, created while authentication was still off.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from support import free_port

#: moto's default account, the one every principal below lives in.
ACCOUNT = "123456789012"
REGION = "us-east-1"


def s3_policy(bucket: str) -> str:
    """An IAM policy document allowing every S3 action on ``bucket`` and its objects."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})


class MotoIam:
    """A running IAM-enforcing moto server; ``endpoint`` is its URL."""

    def __init__(self, endpoint: str, recording: Path, process: subprocess.Popen):
        self.endpoint = endpoint
        self.recording = recording
        self._process = process
        self.admin: dict[str, str] = {}

    def client(self, service: str, keys: dict[str, str] | None = None) -> Any:
        """A boto3 client of this server, signed with ``keys`` (the admin's by default)."""
        import boto3

        keys = keys or self.admin
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=keys["aws_access_key_id"],
            aws_secret_access_key=keys["aws_secret_access_key"],
            aws_session_token=keys.get("aws_session_token"))

    def user(self, name: str, policy: str | None = None) -> dict[str, str]:
        """Create IAM user ``name`` with an inline ``policy``; returns its boto3 key arguments."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        if policy is not None:
            iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=policy)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}

    def role(self, name: str, policy: str, trusted_user: str) -> str:
        """Create role ``name`` with an inline ``policy`` that ``trusted_user`` may assume."""
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{trusted_user}"}}]})
        iam = self.client("iam")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=policy)
        return arn

    def enforce(self) -> None:
        """Switch IAM authentication on for every request from now on."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def mark(self) -> int:
        """A position in the recording; :meth:`recorded` from it sees only later requests."""
        return self.recording.stat().st_size if self.recording.exists() else 0

    def recorded(self, since: int = 0) -> list[dict]:
        """Requests recorded since ``since``: method, url, the signing key id and user agent."""
        if not self.recording.exists():
            return []
        with self.recording.open("rb") as file:
            file.seek(since)
            lines = file.read().splitlines()
        entries = []
        for line in lines:
            entry = json.loads(line)
            headers = {k.lower(): v for k, v in entry["headers"].items()}
            entries.append({"method": entry["method"], "url": entry["url"],
                            "key_id": _key_id(headers.get("authorization", "")),
                            "agent": headers.get("user-agent", ""),
                            "body": base64.b64decode(entry["body"]) if entry.get("body_encoded")
                            else (entry.get("body") or "").encode()})
        return entries

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _key_id(authorization: str) -> str | None:
    # AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, ...
    _, found, rest = authorization.partition("Credential=")
    return rest.split("/", 1)[0] if found else None


@contextlib.contextmanager
def moto_iam_server(workdir: Path) -> Iterator[MotoIam]:
    """Start moto in a child process with recording on and an ``admin`` user; not enforcing yet.

    The caller creates what it needs, then calls :meth:`MotoIam.enforce`.
    """
    port = free_port()
    recording = workdir / "moto-requests.jsonl"
    env = {**os.environ, "MOTO_ENABLE_RECORDING": "True", "MOTO_RECORDER_FILEPATH": str(recording),
           "AWS_EC2_METADATA_DISABLED": "true"}
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    log = (workdir / "moto.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    server = MotoIam(f"http://127.0.0.1:{port}", recording, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{server.endpoint}/moto-api/", timeout=2) as response:
                    response.read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start: {(workdir / 'moto.log').read_text()[-2000:]}")
                time.sleep(0.2)
        bootstrap = {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"}
        server.admin = bootstrap
        server.admin = server.user("admin", json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        yield server
    finally:
        server.stop()
        log.close()
