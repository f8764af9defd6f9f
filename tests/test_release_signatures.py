"""Signed platform releases (cosign's key-pair format) against a real docker-registry.

cosign itself cannot be installed here; the test reads the signature the way cosign does —
the ``sha256-<hex>.sig`` tag through another OCI client (oras), the simple-signing payload,
the ECDSA signature in the layer annotation — and checks it with ``cryptography`` directly.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from test_releases import cached_files, compile_json, isolated, pin, publish, repo  # noqa: F401 - fixtures


def key_pair(folder: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.key", folder / f"{name}.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def require_signature(demo: Path, public: Path) -> None:
    text = (demo / "floe.yaml").read_text()
    (demo / "floe.yaml").write_text(text.replace("platform:\n", f"platform:\n  verify: {{public_key: {public}}}\n", 1))


def test_signing_adds_a_cosign_signature_without_touching_the_release(run_cli, demo: Path, repo: str,
                                                                       oci_registry, tmp_path: Path) -> None:
    import oras.client

    private, public = key_pair(tmp_path, "platform")
    unsigned = publish(run_cli, demo, "v1.0.0", repo)
    digest = unsigned.output.strip().splitlines()[-1]
    signed = publish(run_cli, demo, "v1.0.0", repo, "--sign", private)
    assert signed.exit_code == 0, signed.output
    assert f"already published: {digest}" in signed.output  # the release is unchanged
    assert f"signed {digest} (tag sha256-{digest[7:]}.sig)" in signed.output

    client = oras.client.OrasClient(hostname=oci_registry.host, insecure=True)
    path = repo.split("/", 3)[3]
    manifest = client.get_manifest(f"{oci_registry.host}/{path}:sha256-{digest[7:]}.sig")
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    body = client.get_blob(f"{oci_registry.host}/{path}", layer["digest"]).content
    payload = json.loads(body)
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest
    assert payload["critical"]["type"] == "cosign container image signature"
    key = serialization.load_pem_public_key(public.read_bytes())
    key.verify(base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"]), body,
               ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature if floe signed anything else
    assert client.get_manifest(f"{oci_registry.host}/{path}:v1.0.0")["artifactType"].startswith("application/vnd.floe")


def test_a_required_signature_is_verified_on_pull_and_on_every_cache_read(run_cli, demo: Path, repo: str,
                                                                          tmp_path: Path, isolated: Path) -> None:
    private, public = key_pair(tmp_path, "platform")
    result = publish(run_cli, demo, "v1.0.0", repo, "--sign", private)
    assert result.exit_code == 0, result.output
    digest = result.output.strip().splitlines()[-2]
    pin(demo, repo + ":v1.0.0")
    require_signature(demo, public)
    assert compile_json(run_cli, demo)["platform"]["release_digest"] == digest
    assert compile_json(run_cli, demo)["platform"]["release_digest"] == digest  # from the cache, verified

    pointer = next((isolated / "oci" / "signatures").iterdir())
    signature_manifest = isolated / "oci" / "blobs" / "sha256" / pointer.read_text().strip()[7:]
    data = json.loads(signature_manifest.read_bytes())
    payload = isolated / "oci" / "blobs" / "sha256" / data["layers"][0]["digest"][7:]
    original = payload.read_bytes()
    payload.write_bytes(original.replace(digest.encode(), b"sha256:" + b"0" * 64))
    tampered = run_cli(["compile"], cwd=demo)
    assert tampered.exit_code == 1
    assert f"cached object {data['layers'][0]['digest']} is corrupt" in tampered.output


def test_a_release_signed_by_another_key_or_not_at_all_is_refused(run_cli, demo: Path, repo: str,
                                                                    tmp_path: Path, isolated: Path) -> None:
    other, _ = key_pair(tmp_path, "other")
    _, public = key_pair(tmp_path, "platform")
    publish(run_cli, demo, "v1.0.0", repo, "--sign", other)
    pin(demo, repo + ":v1.0.0")
    require_signature(demo, public)
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert "verifies with the required public key; the release was signed with another key" in result.output
    assert cached_files(isolated) == []  # nothing of a refused release is cached

    platform = demo / "platform" / "local" / "platform.yaml"
    platform.write_text(platform.read_text().replace('"1.0.0"', '"1.0.1"'))
    publish(run_cli, demo, "v1.0.1", repo)
    (demo / "floe.yaml").write_text((demo / "floe.yaml").read_text().replace(":v1.0.0", ":v1.0.1"))
    unsigned = run_cli(["compile"], cwd=demo)
    assert unsigned.exit_code == 1
    assert "the release is not signed" in unsigned.output
    # `floe platform update` checks the same before it moves the lock: nothing is locked.
    updated = run_cli(["platform", "update"], cwd=demo)
    assert updated.exit_code == 1
    assert "the release is not signed" in updated.output
    assert not (demo / "floe.lock").exists() or ":v1.0.1" not in (demo / "floe.lock").read_text()


def test_requiring_a_signature_refuses_a_platform_file(run_cli, demo: Path, tmp_path: Path) -> None:
    _, public = key_pair(tmp_path, "platform")
    text = (demo / "floe.yaml").read_text()
    (demo / "floe.yaml").write_text(text.replace("profiles:\n", f"platform:\n  verify: {{public_key: {public}}}\n"
                                                 "profiles:\n", 1))
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert "platform.verify requires a signed platform release, but the platform is the file" in result.output


@pytest.mark.parametrize("content,expected", [(b"not a key", "not an unencrypted PEM private key"), (None, "cannot read")])
def test_a_bad_signing_key_is_refused_before_anything_is_uploaded(run_cli, demo: Path, repo: str, oci_registry,
                                                                  tmp_path: Path, content, expected) -> None:
    key = tmp_path / "bad.key"
    if content is not None:
        key.write_bytes(content)
    blobs = sorted(oci_registry.storage.rglob("data"))
    result = publish(run_cli, demo, "v1.0.0", repo, "--sign", key)
    assert result.exit_code == 1
    assert expected in result.output
    assert sorted(oci_registry.storage.rglob("data")) == blobs
