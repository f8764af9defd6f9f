"""A real OCI registry for tests: Debian's ``docker-registry`` (CNCF Distribution 2.8).

It runs as a plain child process with a config written here: it listens on 127.0.0.1 only,
keeps its storage in a temporary directory (so tests can reach in and tamper with a blob),
and optionally requires htpasswd (bcrypt) Basic auth. ``.ci/run`` installs it with apt-get;
outside CI a missing binary skips the tests that need it, in CI it fails them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import attrs

from support import free_port, unavailable

BINARY = "docker-registry"


@attrs.frozen
class RunningRegistry:
    """A registry on 127.0.0.1: ``host`` is ``127.0.0.1:PORT``; ``storage`` its blob store."""

    host: str
    storage: Path
    username: str | None = None
    password: str | None = None
    #: The self-signed certificate of a TLS registry (its own CA bundle).
    certificate: Path | None = None

    def url(self, repository: str) -> str:
        """``oci://HOST/REPOSITORY``."""
        return f"oci://{self.host}/{repository}"

    def blob_file(self, digest: str) -> Path:
        """Where the registry keeps a blob's bytes on disk (Distribution's filesystem layout)."""
        hexdigest = digest.split(":", 1)[1]
        return self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexdigest[:2] / hexdigest / "data"


def require_binary(name: str, package: str) -> str:
    """The tool's path; fail in CI (where .ci/run installs it), skip elsewhere."""
    found = shutil.which(name)
    if found:
        return found
    unavailable(f"{name} is not installed (apt-get install -y {package})")


def self_signed_certificate(workdir: Path) -> tuple[Path, Path]:
    """A CA-less self-signed certificate for 127.0.0.1 (``cryptography``); returns (cert, key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "floe test registry")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = workdir / "registry.crt", workdir / "registry.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def start_registry(workdir: Path, username: str | None = None, password: str | None = None,
                   tls: bool = False):
    """Start a registry; return ``(RunningRegistry, Popen)``. The caller stops the process.

    With ``tls`` it serves HTTPS with a self-signed certificate (``workdir/registry.crt``).
    """
    binary = require_binary(BINARY, "docker-registry")
    storage = workdir / "storage"
    storage.mkdir(parents=True)
    port = free_port()
    auth = ""
    if username:
        htpasswd = require_binary("htpasswd", "apache2-utils")
        line = subprocess.run([htpasswd, "-Bbn", username, password], capture_output=True, text=True,
                              check=True).stdout.strip()
        (workdir / "htpasswd").write_text(line + "\n")
        auth = f"auth:\n  htpasswd:\n    realm: floe-tests\n    path: {workdir / 'htpasswd'}\n"
    tls_config = ""
    if tls:
        cert, key = self_signed_certificate(workdir)
        tls_config = f"  tls:\n    certificate: {cert}\n    key: {key}\n"
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: floe-tests-only\n" + tls_config + auth)
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=open(workdir / "registry.log", "wb"))
    deadline = time.monotonic() + 30
    context = None
    if tls:
        import ssl

        context = ssl.create_default_context(cafile=str(workdir / "registry.crt"))
    while True:
        try:
            urllib.request.urlopen(f"{'https' if tls else 'http'}://127.0.0.1:{port}/v2/", timeout=2,
                                   context=context).close()
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                break
            raise
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"docker-registry did not start: {(workdir / 'registry.log').read_text()}")
            time.sleep(0.1)
    return RunningRegistry(f"127.0.0.1:{port}", storage, username, password,
                           workdir / "registry.crt" if tls else None), proc


def stop(proc: subprocess.Popen) -> None:
    """Stop a registry started by :func:`start_registry`."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def registry_fixture(username: str | None = None, password: str | None = None, tls: bool = False):
    """A session fixture body: yield a running registry, stop it afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="floe-registry-"))
    running, proc = start_registry(workdir, username, password, tls)
    try:
        yield running
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
