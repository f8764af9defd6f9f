"""Platform releases against a real OCI registry (Debian's docker-registry on 127.0.0.1).

Build, publish, pull, lock, cache and every fault a registry or a cache can show. The
registry is real; two faults it cannot produce (a 403 and an HTML page) come from a tiny
loopback HTTP server that says so.
"""

from __future__ import annotations

import http.server
import itertools
import json
import re
import shutil
import threading
from pathlib import Path

import pytest

from support.oci_registry import registry_fixture

_names = itertools.count()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache and an empty Docker config for every test; never the user's own."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("FLOE_CACHE_DIR", str(cache))
    (tmp_path / "docker").mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("FLOE_INSECURE_REGISTRIES", raising=False)
    return cache


@pytest.fixture
def repo(oci_registry, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh repository in the shared registry, reachable over plain HTTP."""
    monkeypatch.setenv("FLOE_INSECURE_REGISTRIES", oci_registry.host)
    return oci_registry.url(f"acme/platform-{next(_names)}")


def platform_of(demo: Path) -> Path:
    return demo / "platform" / "local" / "platform.yaml"


def pin(demo: Path, ref: str) -> None:
    """Point the demo product's floe.yaml at ``ref``."""
    text = (demo / "floe.yaml").read_text()
    (demo / "floe.yaml").write_text(text.replace("profiles:\n", f"platform:\n  ref: {ref}\nprofiles:\n", 1))


def publish(run_cli, demo: Path, version: str, to: str, *extra: str):
    return run_cli(["platform", "publish", version, "--to", to, "--file", platform_of(demo), *extra], cwd=demo)


def cached_files(cache: Path) -> list[Path]:
    """Every file in the cache, temporary files included."""
    return sorted(p for p in cache.rglob("*") if p.is_file())


def compile_json(run_cli, demo: Path, *extra: str) -> dict:
    result = run_cli(["compile", *extra], cwd=demo)
    assert result.exit_code == 0, result.output
    return json.loads((demo / ".floe" / "compiled_artifacts.json").read_text())


# -- floe platform compile -o: the release ---------------------------------------------------


def test_platform_compile_writes_a_byte_identical_release_wherever_it_runs(run_cli, demo: Path,
                                                                         tmp_path: Path) -> None:
    first = run_cli(["platform", "compile", platform_of(demo), "-o", tmp_path / "a"], cwd=demo)
    assert first.exit_code == 0, first.output
    elsewhere = tmp_path / "moved"
    shutil.copytree(demo / "platform", elsewhere)
    second = run_cli(["platform", "compile", elsewhere / "local" / "platform.yaml", "-o", tmp_path / "b"],
                     cwd=tmp_path)
    assert second.exit_code == 0, second.output
    files = sorted(p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == ["architecture/layer-constraints.json", "architecture/naming-rules.json", "manifest.json",
                     "platform.yaml", "policies/approved-plugins.json", "policies/classification.json",
                     "policies/quality-gates.json", "schemas/catalog-sqlite.schema.json",
                     "schemas/compute-duckdb.schema.json", "schemas/orchestrator-dagster.schema.json",
                     "schemas/storage-local.schema.json"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["name"] == "laptop" and manifest["version"] == "1.0.0"
    assert manifest["source_hash"].startswith("sha256:") and manifest["floe_version"]
    assert json.loads((tmp_path / "a" / "policies" / "approved-plugins.json").read_text()) == {"compute": ["duckdb"]}
    gates = json.loads((tmp_path / "a" / "policies" / "quality-gates.json").read_text())
    assert gates["minimum_test_coverage"] == 80 and gates["block_on_failure"] is False


def test_released_platform_has_its_parents_merged_in(run_cli, demo: Path, tmp_path: Path) -> None:
    enterprise = demo / "platform" / "enterprise.yaml"
    enterprise.write_text("apiVersion: floe.dev/v1\nkind: Platform\nmetadata: {name: acme, scope: enterprise}\n"
                          "governance:\n  quality_gates: {require_descriptions: true}\n")
    platform = platform_of(demo)
    platform.write_text(platform.read_text().replace('  version: "1.0.0"\n',
                                                     '  version: "1.0.0"\n  parent: ../enterprise.yaml\n'))
    result = run_cli(["platform", "compile", platform, "-o", tmp_path / "out"], cwd=demo)
    assert result.exit_code == 0, result.output
    released = (tmp_path / "out" / "platform.yaml").read_text()
    assert "parent:" not in released and "require_descriptions: true" in released
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [p["name"] for p in manifest["parents"]] == ["acme"]


# -- publish --------------------------------------------------------------------------------


def test_publish_prints_the_digest_and_another_oci_client_reads_the_artifact(run_cli, demo: Path, repo: str,
                                                                           oci_registry) -> None:
    import oras.client

    result = publish(run_cli, demo, "v1.0.0", repo, "--source", "https://git.example.com/acme/platform",
                     "--revision", "abc123")
    assert result.exit_code == 0, result.output
    digest = result.output.strip().splitlines()[-1]
    assert digest.startswith("sha256:") and len(digest) == 71

    client = oras.client.OrasClient(hostname=oci_registry.host, insecure=True)
    target = f"{oci_registry.host}/{repo.split('/', 3)[3]}:v1.0.0"
    manifest = client.get_manifest(target)
    assert manifest["artifactType"] == "application/vnd.floe.platform.release.v1"
    assert manifest["annotations"]["org.opencontainers.image.version"] == "1.0.0"
    assert manifest["annotations"]["org.opencontainers.image.source"] == "https://git.example.com/acme/platform"
    assert manifest["annotations"]["org.opencontainers.image.revision"] == "abc123"
    titles = {l["annotations"]["org.opencontainers.image.title"]: l["mediaType"] for l in manifest["layers"]}
    assert titles["platform.yaml"] == "application/vnd.floe.platform.config.v1+yaml"
    assert titles["policies/quality-gates.json"] == "application/vnd.floe.platform.policy.v1+json"
    assert titles["manifest.json"] == "application/vnd.floe.platform.manifest.v1+json"


def test_republishing_identical_content_is_a_no_op_and_different_content_is_refused(run_cli, demo: Path,
                                                                                  repo: str, oci_registry) -> None:
    first = publish(run_cli, demo, "v1.0.0", repo)
    assert first.exit_code == 0, first.output
    digest = first.output.strip().splitlines()[-1]
    again = publish(run_cli, demo, "v1.0.0", repo, "--revision", "a-later-commit")
    assert again.exit_code == 0, again.output
    assert f"already published: {digest}" in again.output

    blobs_before = sorted((oci_registry.storage).rglob("data"))
    platform = platform_of(demo)
    platform.write_text(platform.read_text().replace("threads: 2", "threads: 3"))
    changed = publish(run_cli, demo, "v1.0.0", repo)
    assert changed.exit_code == 1
    assert f"already published with different content: the registry holds {digest}, this platform builds sha256:" \
        in changed.output
    assert sorted(oci_registry.storage.rglob("data")) == blobs_before  # nothing was uploaded


@pytest.mark.parametrize("version", ["1.0", "latest", "v1.0.0+build.5", "01.2.3"])
def test_publish_accepts_semantic_versions_only(run_cli, demo: Path, repo: str, version: str) -> None:
    result = publish(run_cli, demo, version, repo)
    assert result.exit_code == 1
    assert f"version '{version}' is not a semantic version" in result.output


def test_publish_refuses_a_version_other_than_the_platforms_own(run_cli, demo: Path, repo: str) -> None:
    result = publish(run_cli, demo, "2.0.0", repo)
    assert result.exit_code == 1
    assert "metadata.version is 1.0.0 but the release is 2.0.0" in result.output


# -- pull, lock and cache ------------------------------------------------------------------


def test_compile_pulls_once_then_works_with_the_registry_switched_off(run_cli, demo: Path, tmp_path: Path,
                                                                     monkeypatch) -> None:
    gen = registry_fixture()
    registry = next(gen)
    monkeypatch.setenv("FLOE_INSECURE_REGISTRIES", registry.host)
    ref = registry.url("acme/platform") + ":v1.0.0"
    published = publish(run_cli, demo, "v1.0.0", registry.url("acme/platform"))
    assert published.exit_code == 0, published.output
    digest = published.output.strip().splitlines()[-1]
    pin(demo, ref)
    shutil.rmtree(demo / "platform")  # the product has no copy of the platform any more
    artifacts = compile_json(run_cli, demo)
    assert artifacts["platform"]["ref"] == ref
    assert artifacts["platform"]["release_digest"] == digest
    assert artifacts["platform"]["source"] == ref
    lock = json.loads((demo / "floe.lock").read_text())
    assert lock["platforms"][ref]["digest"] == digest
    next(gen, None)  # the registry is switched off
    again = compile_json(run_cli, demo)
    assert again["platform"]["release_digest"] == digest
    assert again["source_hash"] == artifacts["source_hash"]

    offline_without_lock = run_cli(["compile", "--update"], cwd=demo)
    assert offline_without_lock.exit_code == 1
    assert f"cannot reach registry {registry.host}" in offline_without_lock.output
    assert "Traceback" not in offline_without_lock.output


def test_unreachable_registry_without_a_cached_copy_is_a_clear_error(run_cli, demo: Path, monkeypatch) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("FLOE_INSECURE_REGISTRIES", f"127.0.0.1:{port}")
    pin(demo, f"oci://127.0.0.1:{port}/acme/platform:v1.0.0")
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert f"cannot reach registry 127.0.0.1:{port} (Connection refused)" in result.output
    assert not (demo / "floe.lock").exists()


def test_floe_deploy_names_the_release_and_its_digest_for_the_pods(run_cli, demo: Path, repo: str,
                                                                  oci_registry, isolated: Path) -> None:
    from floe.artifacts import CompiledArtifacts
    from floe.deploy.values import product_values

    digest = publish(run_cli, demo, "v1.0.0", repo).output.strip().splitlines()[-1]
    pin(demo, repo + ":v1.0.0")
    compile_json(run_cli, demo)
    artifacts = CompiledArtifacts.read(demo / ".floe" / "compiled_artifacts.json")
    platform = product_values(artifacts, "registry.example.com/sales:1.0.0", None, "floe-platform")["platform"]
    assert platform["ref"] == repo + ":v1.0.0" and platform["releaseDigest"] == digest


def test_a_locked_digest_is_compiled_until_update_moves_the_lock(run_cli, demo: Path, repo: str,
                                                                 oci_registry, isolated: Path) -> None:
    from floe.releases.pull import RegistryOptions
    from floe.releases.reference import parse

    first = publish(run_cli, demo, "v1.0.0", repo)
    old = first.output.strip().splitlines()[-1]
    pin(demo, repo + ":v1.0.0")
    assert compile_json(run_cli, demo)["platform"]["release_digest"] == old
    # Someone re-points the tag behind floe's back (registries allow it; floe never does).
    platform = platform_of(demo)
    platform.write_text(platform.read_text().replace("threads: 2", "threads: 3").replace('"1.0.0"', '"1.0.1"'))
    second = publish(run_cli, demo, "v1.0.1", repo)
    new = second.output.strip().splitlines()[-1]
    client = RegistryOptions(insecure=True).client(parse(repo + ":v1.0.1"))
    _, manifest, _ = client.manifest(new)
    client.put_manifest("v1.0.0", manifest)

    assert compile_json(run_cli, demo)["platform"]["release_digest"] == old  # the lock holds
    shutil.rmtree(isolated)  # a fresh CI machine: no cache, the lock alone pins the digest
    assert compile_json(run_cli, demo)["platform"]["release_digest"] == old
    shutil.copy(demo / ".floe" / "compiled_artifacts.json", demo / "old.json")
    updated = run_cli(["platform", "update"], cwd=demo)
    assert updated.exit_code == 0, updated.output
    assert f"-> {new}" in updated.output
    assert json.loads((demo / "floe.lock").read_text())["platforms"][repo + ":v1.0.0"]["digest"] == new
    assert compile_json(run_cli, demo)["platform"]["release_digest"] == new

    diff = run_cli(["diff", demo / "old.json", demo / ".floe" / "compiled_artifacts.json"], cwd=demo)
    assert f"platform.release_digest: \"{old}\" -> \"{new}\"" in diff.output


def test_a_digest_reference_needs_no_lock(run_cli, demo: Path, repo: str) -> None:
    digest = publish(run_cli, demo, "v1.0.0", repo).output.strip().splitlines()[-1]
    pin(demo, f"{repo}@{digest}")
    assert compile_json(run_cli, demo)["platform"]["release_digest"] == digest
    assert not (demo / "floe.lock").exists()


def test_a_tampered_cache_is_refused_naming_the_digest(run_cli, demo: Path, repo: str, isolated: Path) -> None:
    publish(run_cli, demo, "v1.0.0", repo)
    pin(demo, repo + ":v1.0.0")
    compile_json(run_cli, demo)
    manifest = json.loads((demo / ".floe" / "compiled_artifacts.json").read_text())
    cached = isolated / "oci" / "blobs" / "sha256"
    from floe.releases.cache import Cache

    platform_blob = next(p for p in cached.iterdir() if b"released by floe" in p.read_bytes())
    platform_blob.write_bytes(platform_blob.read_bytes().replace(b"threads: 2", b"threads: 64"))
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert f"cached object sha256:{platform_blob.name} is corrupt" in result.output
    assert Cache(isolated).path(manifest["platform"]["release_digest"]).is_file()


def test_a_blob_tampered_in_the_registry_is_refused_and_nothing_is_cached(run_cli, demo: Path, repo: str,
                                                                        oci_registry, isolated: Path) -> None:
    from floe.releases.pull import RegistryOptions
    from floe.releases.reference import parse

    digest = publish(run_cli, demo, "v1.0.0", repo).output.strip().splitlines()[-1]
    client = RegistryOptions(insecure=True).client(parse(repo + ":v1.0.0"))
    _, data, _ = client.manifest(digest)
    layer = next(l for l in json.loads(data)["layers"]
                 if l["annotations"]["org.opencontainers.image.title"] == "platform.yaml")
    stored = oci_registry.blob_file(layer["digest"])
    original = stored.read_bytes()
    stored.write_bytes(original.replace(b"threads: 2", b"threads: 9"))
    try:
        pin(demo, repo + ":v1.0.0")
        result = run_cli(["compile"], cwd=demo)
    finally:
        stored.write_bytes(original)
    assert result.exit_code == 1
    assert f"blob {layer['digest']} does not match its digest" in result.output
    assert cached_files(isolated) == []
    assert not (demo / "floe.lock").exists()


# -- faults -----------------------------------------------------------------------------------


def test_unknown_tag_is_a_clear_error(run_cli, demo: Path, repo: str) -> None:
    publish(run_cli, demo, "v1.0.0", repo)
    pin(demo, repo + ":v9.9.9")
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert f"tag 'v9.9.9' not found in {repo}" in result.output


def _push_raw(repo: str, tag: str, layers: list[tuple[str, bytes]], artifact_type: str,
              sizes: dict[str, int] | None = None) -> None:
    """Push a hand-made manifest with floe's own client (to fake a hostile publisher)."""
    from floe.releases.artifact import EMPTY, EMPTY_DIGEST, digest_of
    from floe.releases.pull import RegistryOptions
    from floe.releases.reference import parse

    client = RegistryOptions(insecure=True).client(parse(f"{repo}:{tag}"))
    client.push_blob(EMPTY_DIGEST, EMPTY)
    descriptors = []
    for title, data in layers:
        client.push_blob(digest_of(data), data)
        descriptors.append({"mediaType": "application/octet-stream", "digest": digest_of(data),
                            "size": (sizes or {}).get(title, len(data)),
                            "annotations": {"org.opencontainers.image.title": title}})
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": artifact_type,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY_DIGEST, "size": 2},
                "layers": descriptors}
    client.put_manifest(tag, json.dumps(manifest).encode())


@pytest.mark.parametrize("case,expected", [
    ("wrong-type", "artifact type is application/vnd.example.other, not a floe platform release"),
    ("dotdot", "has the title '../../etc/passwd'; a release file must be a relative path"),
    ("absolute", "has the title '/etc/passwd'; a release file must be a relative path"),
    ("oversized", "the release is larger than 16 MiB"),
])
def test_hostile_manifests_are_refused_before_any_blob_is_used(run_cli, demo: Path, repo: str, isolated: Path,
                                                               case: str, expected: str) -> None:
    files = [("manifest.json", b'{"format": "1"}'), ("platform.yaml", b"apiVersion: floe.dev/v1\n")]
    kind, sizes = "application/vnd.floe.platform.release.v1", None
    if case == "wrong-type":
        kind = "application/vnd.example.other"
    elif case == "dotdot":
        files.append(("../../etc/passwd", b"x"))
    elif case == "absolute":
        files.append(("/etc/passwd", b"x"))
    else:
        sizes = {"platform.yaml": 64 * 1024 * 1024}
    _push_raw(repo, "v1.0.0", files, kind, sizes)
    pin(demo, repo + ":v1.0.0")
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert expected in result.output
    assert cached_files(isolated) == []


def test_basic_auth_registry_credentials_from_secret_refs_and_docker_config(run_cli, demo: Path, oci_auth_registry,
                                                                          monkeypatch, tmp_path: Path) -> None:
    import base64

    monkeypatch.setenv("FLOE_INSECURE_REGISTRIES", oci_auth_registry.host)
    repo = oci_auth_registry.url(f"acme/private-{next(_names)}")
    anonymous = publish(run_cli, demo, "v1.0.0", repo)
    assert anonymous.exit_code == 1
    assert f"registry {oci_auth_registry.host} requires authentication (401)" in anonymous.output

    monkeypatch.setenv("REGISTRY_PASSWORD", "not-the-password")
    wrong = publish(run_cli, demo, "v1.0.0", repo, "--username", "floe", "--password-secret", "registry-password")
    assert wrong.exit_code == 1
    assert "refused the credentials from secret 'registry-password' (401 Unauthorized)" in wrong.output
    assert "not-the-password" not in wrong.output

    monkeypatch.setenv("REGISTRY_PASSWORD", oci_auth_registry.password)
    ok = publish(run_cli, demo, "v1.0.0", repo, "--username", "floe", "--password-secret", "registry-password")
    assert ok.exit_code == 0, ok.output
    assert oci_auth_registry.password not in ok.output

    # Data engineers pull with the Docker login they already have.
    auth = base64.b64encode(f"floe:{oci_auth_registry.password}".encode()).decode()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"auths": {oci_auth_registry.host: {"auth": auth}}}))
    pin(demo, repo + ":v1.0.0")
    assert compile_json(run_cli, demo)["platform"]["release_digest"] == ok.output.strip().splitlines()[-1]


class _Answer(http.server.BaseHTTPRequestHandler):
    """Stands in for what docker-registry never answers: a 403 and an HTML page."""

    status, content_type, body = 200, "text/html", b"<html><body>Sign in</body></html>"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("status,content_type,body,expected", [
    (200, "text/html", b"<html>Sign in</html>", "answered an HTML page (HTTP 200)"),
    (403, "application/json", b'{"errors": [{"code": "DENIED"}]}', "denied access to acme/platform"),
])
def test_a_server_that_is_not_a_registry_or_denies_access(run_cli, demo: Path, monkeypatch, status: int,
                                                        content_type: str, body: bytes, expected: str) -> None:
    handler = type("Handler", (_Answer,), {"status": status, "content_type": content_type, "body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv("FLOE_INSECURE_REGISTRIES", host)
        pin(demo, f"oci://{host}/acme/platform:v1.0.0")
        result = run_cli(["compile"], cwd=demo)
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output


def test_plain_http_is_used_only_when_asked_for(run_cli, demo: Path, oci_registry) -> None:
    repo = oci_registry.url(f"acme/tls-{next(_names)}")
    result = publish(run_cli, demo, "v1.0.0", repo)
    assert result.exit_code == 1
    assert (f"registry {oci_registry.host}: TLS verification failed ([SSL: WRONG_VERSION_NUMBER] wrong "
            "version number); pass --ca-bundle PEM") in result.output
    assert publish(run_cli, demo, "v1.0.0", repo, "--insecure").exit_code == 0


def test_bad_oci_references_are_clear_errors(run_cli, demo: Path) -> None:
    pin(demo, "oci://registry.example.com/Acme/Platform:v1")
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert "repository 'Acme/Platform' must be lowercase" in result.output
    pin_less = demo / "floe.yaml"
    pin_less.write_text(pin_less.read_text().replace("oci://registry.example.com/Acme/Platform:v1",
                                                     "oci://registry.example.com/acme/platform"))
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert "names no version; add a tag (:v1.3.0) or a digest" in result.output


# -- data mesh --------------------------------------------------------------------------------

ENTERPRISE = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {name: acme-enterprise, version: "3.1.0", scope: enterprise}
data_architecture: {pattern: medallion, naming: {enforcement: warn}}
governance:
  approved_plugins: {compute: [duckdb]}
  quality_gates: {minimum_test_coverage: 50}
"""


def test_data_mesh_enterprise_and_domain_releases_compile_a_product_offline(run_cli, demo: Path, tmp_path: Path,
                                                                           monkeypatch) -> None:
    gen = registry_fixture()
    registry = next(gen)
    monkeypatch.setenv("FLOE_INSECURE_REGISTRIES", registry.host)
    enterprise = tmp_path / "enterprise" / "platform.yaml"
    enterprise.parent.mkdir()
    enterprise.write_text(ENTERPRISE)
    result = run_cli(["platform", "publish", "v3.1.0", "--to", registry.url("acme/enterprise"),
                      "--file", enterprise], cwd=tmp_path)
    assert result.exit_code == 0, result.output
    enterprise_ref = f"{registry.url('acme/enterprise')}@{result.output.strip().splitlines()[-1]}"

    domain = platform_of(demo)
    text = domain.read_text().replace('  version: "1.0.0"\n', f'  version: "1.0.0"\n  scope: domain\n'
                                      f'  parent: {enterprise_ref}\n')
    # A domain may tighten the enterprise's rules, never loosen them: try loosening first.
    domain.write_text(text.replace("minimum_test_coverage: 80", "minimum_test_coverage: 40"))
    loosened = publish(run_cli, demo, "v1.0.0", registry.url("acme/sales"))
    assert loosened.exit_code == 1
    assert "40% is below the minimum of 50% set by " + enterprise_ref in loosened.output
    domain.write_text(text)
    published = publish(run_cli, demo, "v1.0.0", registry.url("acme/sales"))
    assert published.exit_code == 0, published.output
    domain_digest = published.output.strip().splitlines()[-1]

    product = tmp_path / "product"
    shutil.copytree(demo, product, ignore=shutil.ignore_patterns("platform"))
    pin(product, registry.url("acme/sales") + ":v1.0.0")
    first = compile_json(run_cli, product)
    next(gen, None)  # the registry is switched off
    artifacts = compile_json(run_cli, product)
    assert artifacts == first
    assert artifacts["platform"]["release_digest"] == domain_digest
    assert artifacts["platform"]["parents"] == [enterprise_ref]
    assert artifacts["governance"]["policy"]["governance"]["quality_gates"]["minimum_test_coverage"] == 80


def test_tls_registry_is_verified_with_a_ca_bundle(run_cli, demo: Path, oci_tls_registry, monkeypatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "FLOE_REGISTRY_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    repo = oci_tls_registry.url(f"acme/tls-{next(_names)}")
    untrusted = publish(run_cli, demo, "v1.0.0", repo)
    assert untrusted.exit_code == 1
    assert (f"registry {oci_tls_registry.host}: TLS verification failed ([SSL: CERTIFICATE_VERIFY_FAILED] "
            "certificate verify failed: self-signed certificate") in untrusted.output
    published = publish(run_cli, demo, "v1.0.0", repo, "--ca-bundle", oci_tls_registry.certificate)
    assert published.exit_code == 0, published.output
    monkeypatch.setenv("FLOE_REGISTRY_CA_BUNDLE", str(oci_tls_registry.certificate))
    pin(demo, repo + ":v1.0.0")
    assert compile_json(run_cli, demo)["platform"]["release_digest"] == published.output.strip().splitlines()[-1]


def test_bearer_token_auth_from_a_password_secret_and_from_a_token(run_cli, demo: Path, oci_registry, monkeypatch,
                                                                  tmp_path: Path) -> None:
    """Against a loopback token-service stand-in in front of the real registry (see bearer_proxy)."""
    from support.bearer_proxy import start_bearer_proxy

    proxy = start_bearer_proxy(oci_registry.host, "ci", "t0ken-pass", static_token="long-lived-registry-token")
    try:
        monkeypatch.setenv("FLOE_INSECURE_REGISTRIES", proxy.host)
        repo = f"oci://{proxy.host}/acme/bearer-{next(_names)}"
        refused = publish(run_cli, demo, "v1.0.0", repo)
        assert refused.exit_code == 1
        assert f"registry {proxy.host} requires authentication (401 from its token service)" in refused.output
        monkeypatch.setenv("CI_REGISTRY_PASSWORD", "wrong")
        wrong = publish(run_cli, demo, "v1.0.0", repo, "--username", "ci", "--password-secret", "ci-registry-password")
        assert f"the token service of {proxy.host} refused the credentials from secret 'ci-registry-password'" \
            in wrong.output
        monkeypatch.setenv("CI_REGISTRY_PASSWORD", "t0ken-pass")
        published = publish(run_cli, demo, "v1.0.0", repo, "--username", "ci", "--password-secret", "ci-registry-password")
        assert published.exit_code == 0, published.output
        assert proxy.token_requests >= 1 and proxy.tokens

        monkeypatch.setenv("REGISTRY_TOKEN", "long-lived-registry-token")
        pin(demo, repo + ":v1.0.0")
        updated = run_cli(["platform", "update", "--token-secret", "registry-token"], cwd=demo)
        assert updated.exit_code == 0, updated.output
        digest = re.findall(r"sha256:[0-9a-f]{64}", published.output)[-1]
        assert digest in updated.output
        assert "long-lived-registry-token" not in updated.output + published.output
    finally:
        proxy.close()


def test_platform_compile_refuses_to_write_a_release_over_other_files(run_cli, demo: Path) -> None:
    platform = platform_of(demo)
    result = run_cli(["platform", "compile", platform, "-o", platform.parent], cwd=demo)
    assert result.exit_code == 1
    assert "platform/local: not empty and not a floe release" in result.output
    assert platform.is_file()
    out = demo / "dist"
    assert run_cli(["platform", "compile", platform, "-o", out], cwd=demo).exit_code == 0
    (out / "schemas" / "storage-local.schema.json").unlink()
    (out / "policies" / "old-rule.json").write_text("{}")  # not listed by the release: left alone
    again = run_cli(["platform", "compile", platform, "-o", out], cwd=demo)
    assert again.exit_code == 0, again.output
    assert (out / "schemas" / "storage-local.schema.json").is_file()
    assert (out / "policies" / "old-rule.json").is_file()
