"""A real PostgreSQL server on 127.0.0.1 for the tests (Debian's ``postgresql`` 15).

``initdb`` + ``pg_ctl`` on a temporary directory, password authentication on a loopback port.
PostgreSQL refuses to run as root: under root the cluster belongs to, and runs as, ``nobody``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import attrs
import pytest

from support import free_port, unavailable

BIN = Path("/usr/lib/postgresql/15/bin")


@attrs.frozen
class Postgres:
    """A running server: where it listens and the superuser it was created with."""

    host: str
    port: int
    user: str
    password: str
    database: str
    bin: Path

    def dump(self) -> str:
        """``pg_dump`` of the database: everything Dagster stored, as text."""
        proc = subprocess.run([str(self.bin / "pg_dump"), "-h", self.host, "-p", str(self.port),
                               "-U", self.user, self.database], capture_output=True, text=True,
                              env={**os.environ, "PGPASSWORD": self.password}, check=True)
        return proc.stdout


def _as_user() -> dict:
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid}


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for the session; fails in CI, skips elsewhere, when not installed."""
    if not (BIN / "initdb").is_file():
        unavailable("PostgreSQL 15 is not installed: apt-get install postgresql")
    owner = _as_user()
    home = Path(tempfile.mkdtemp(prefix="floe-pg-"))
    data, sockets = home / "data", home / "sockets"
    sockets.mkdir()
    password = "pg-" + os.urandom(12).hex()
    (home / "pw").write_text(password + "\n")
    if owner:
        for path in (home, sockets, home / "pw"):
            os.chown(path, owner["user"], owner["group"])
    port = free_port()
    server = Postgres("127.0.0.1", port, "dagster", password, "dagster", BIN)
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    try:
        subprocess.run([str(BIN / "initdb"), "-D", str(data), "-U", server.user, "--auth", "scram-sha-256",
                        "--pwfile", str(home / "pw"), "-E", "UTF8"], check=True, capture_output=True,
                       env=env, cwd=home, **owner)
        (home / "pw").unlink()
        subprocess.run([str(BIN / "pg_ctl"), "-D", str(data), "-l", str(home / "server.log"), "-w",
                        "-o", f"-h 127.0.0.1 -p {port} -k {sockets}", "start"], check=True,
                       capture_output=True, env=env, cwd=home, **owner)
        subprocess.run([str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", server.user,
                        server.database], check=True, capture_output=True,
                       env={**env, "PGPASSWORD": password})
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, env=env, cwd=home, **owner)
        shutil.rmtree(home, ignore_errors=True)
