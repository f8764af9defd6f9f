"""The JVM servers the tests run on 127.0.0.1: Apache Iceberg's reference REST catalog server
and a single-node Trino with its Iceberg connector.

Both come from Maven Central through ``.ci/fetch-jvm-peers`` (cached under ``~/.cache/floe-ci``);
nothing here downloads. :func:`available` says why a server cannot start, so a test can skip
with that reason on a developer's machine and fail in CI.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from support import free_port

CACHE = Path(os.environ.get("FLOE_CI_CACHE", Path.home() / ".cache" / "floe-ci"))
JDK = Path(os.environ.get("FLOE_JDK", "/usr/lib/jvm/temurin-25-jdk-amd64"))
#: The REST server's JDK: Hadoop's file system (a file:// warehouse) needs Subject.getSubject,
#: which JDK 24+ refuses; Iceberg runs on 17.
REST_JDK = Path(os.environ.get("FLOE_REST_JDK", "/usr/lib/jvm/java-17-openjdk-amd64"))
TRINO_HOME = CACHE / "trino" / "trino-server-476"
REST_HOME = CACHE / "iceberg-rest"
#: Trino's heap: the machine is shared, and a test workload needs little.
TRINO_HEAP = "2G"


def available() -> str | None:
    """``None`` when both servers can start here, else what is missing and how to get it."""
    if not (JDK / "bin" / "java").is_file():
        return f"no JDK 24+ at {JDK} (set FLOE_JDK)"
    if not (REST_JDK / "bin" / "java").is_file():
        return f"no JDK 17 at {REST_JDK} (apt-get install openjdk-17-jre-headless, or set FLOE_REST_JDK)"
    for path in (TRINO_HOME / ".complete", REST_HOME / ".complete"):
        if not path.is_file():
            return f"{path.parent} is missing: run .ci/fetch-jvm-peers"
    return None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@contextlib.contextmanager
def iceberg_rest_server(workdir: Path, warehouse: str, env: dict[str, str] | None = None,
                        timeout: float = 120) -> Iterator[str]:
    """Run Apache Iceberg's REST catalog server (a JDBC catalog in SQLite under ``workdir``).

    :param warehouse: where tables live: ``file:///...`` or ``s3://bucket/prefix`` (then pass
        ``CATALOG_IO__IMPL``, ``CATALOG_S3_*`` and ``AWS_*`` in ``env``).
    :yields: the catalog's URI, ``http://127.0.0.1:<port>``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = {"CATALOG_WAREHOUSE": warehouse, "CATALOG_REST_PORT": "0",
              "CATALOG_URI": f"jdbc:sqlite:file:{workdir / 'catalog.db'}",
              "CATALOG_JDBC_SCHEMA__VERSION": "V1", **(env or {})}
    log = open(workdir / "iceberg-rest.log", "w+b")
    command = [str(REST_JDK / "bin" / "java"), "-Xmx256m",
               "-cp", f"{REST_HOME / 'classes'}{os.pathsep}{REST_HOME / 'lib'}/*",
               "org.apache.iceberg.rest.LoopbackRESTCatalogServer"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                               env={**os.environ, **config})
    try:
        deadline = time.monotonic() + timeout
        uri = None
        while uri is None:
            text = (workdir / "iceberg-rest.log").read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("floe-iceberg-rest listening on "):
                    uri = "http://" + line.rsplit(" ", 1)[1]
            if uri is None:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Iceberg REST server did not start:\n{text[-4000:]}")
                time.sleep(0.2)
        yield uri
    finally:
        _stop(process)
        log.close()


@contextlib.contextmanager
def trino_server(catalogs: dict[str, dict[str, str]], workdir: Path | None = None,
                 timeout: float = 300, config: dict[str, str] | None = None) -> Iterator[dict]:
    """Run a single-node Trino (coordinator and worker in one JVM) on 127.0.0.1.

    :param catalogs: Trino catalog name → its properties (``connector.name=iceberg``, ...).
    :param config: more lines of ``config.properties`` (HTTPS, authentication); the plain HTTP
        port stays open, since the start-up check asks it.
    :yields: ``{"host", "port", "startup_seconds", "rss_bytes"}``.
    """
    own = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="floe-trino-")) if own else workdir
    etc, data = workdir / "etc", workdir / "data"
    (etc / "catalog").mkdir(parents=True, exist_ok=True)
    data.mkdir(exist_ok=True)
    port = free_port()
    (etc / "node.properties").write_text(
        f"node.environment=floetest\nnode.id=floe-test\nnode.data-dir={data}\n"
        # Loopback only: the HTTP server binds to this address, and the node announces it.
        "node.bind-ip=127.0.0.1\nnode.internal-address=127.0.0.1\n")
    (etc / "config.properties").write_text("\n".join([
        "coordinator=true", "node-scheduler.include-coordinator=true",
        f"http-server.http.port={port}",
        f"discovery.uri=http://127.0.0.1:{port}",
        "query.max-memory=1GB", "query.max-memory-per-node=1GB",
        # One node on a small shared machine: few threads, no spilling to remote nodes.
        "task.concurrency=2", "task.max-worker-threads=8",
        *(f"{key}={value}" for key, value in (config or {}).items()),
    ]) + "\n")
    (etc / "jvm.config").write_text("\n".join([
        "-server", f"-Xmx{TRINO_HEAP}", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
        "-XX:ReservedCodeCacheSize=256M", "-Djdk.attach.allowAttachSelf=true",
        "-Dnet.bytebuddy.experimental=true", "--enable-native-access=ALL-UNNAMED",
    ]) + "\n")
    (etc / "log.properties").write_text("io.trino=WARN\n")
    for name, properties in catalogs.items():
        (etc / "catalog" / f"{name}.properties").write_text(
            "".join(f"{key}={value}\n" for key, value in properties.items()))
    log = open(workdir / "trino.log", "w+b")
    start = time.monotonic()
    process = subprocess.Popen(
        [str(TRINO_HOME / "bin" / "launcher"), "run", f"--etc-dir={etc}", f"--data-dir={data}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True,
        env={**os.environ, "JAVA_HOME": str(JDK), "PATH": f"{JDK / 'bin'}{os.pathsep}{os.environ['PATH']}"})
    try:
        deadline = start + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/info", timeout=5) as response:
                    if json.load(response).get("starting") is False:
                        break
            except (OSError, ValueError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Trino did not start:\n"
                                   + (workdir / "trino.log").read_text(errors="replace")[-4000:])
            time.sleep(0.5)
        seconds = time.monotonic() - start
        yield {"host": "127.0.0.1", "port": port, "startup_seconds": seconds,
               "rss_bytes": _rss(process.pid)}
    finally:
        _stop(process)
        log.close()
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def _rss(pid: int) -> int:
    """Resident memory of ``pid`` and its children (the launcher execs the JVM)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if status.parent.name == str(pid) or fields.get("PPid", "").strip() == str(pid):
            total += int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    return total
