"""``floe platform publish VERSION --to oci://HOST/REPO``: push a release, tags immutable.

The manifest is built (and its digest known) before the registry is asked anything. When the
tag exists already, identical content is a success that uploads nothing ("already
published"), and different content is an error naming both digests, raised before any
upload. The check and the final manifest upload are two requests, as the distribution API
has no conditional write; two publishers racing for one tag is the registry's to settle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import attrs

from floe.diagnostics import FloeError
from floe.releases.artifact import EMPTY, EMPTY_DIGEST, digest_of, oci_manifest
from floe.releases.build import build_release, check_version
from floe.releases.pull import RegistryOptions
from floe.releases.reference import parse


@attrs.frozen
class Published:
    """The outcome: where it went, its digest, and whether it was there already."""

    ref: str
    digest: str
    already: bool
    uploaded: int


def publish(platform_path: Path, version: str, target: str, options: RegistryOptions | None = None,
            source: str | None = None, revision: str | None = None,
            before_upload: Callable[[], None] | None = None, sign_key: Path | None = None) -> Published:
    """Build the release of ``platform_path`` as ``version`` and push it to ``target``.

    :param before_upload: called once the tag is known to be free, before the first upload.
    :param sign_key: sign the manifest digest with this ECDSA P-256 key (cosign's format, under
        the tag ``sha256-<hex>.sig``); the release itself is not touched, so signing an already
        published release adds a signature and nothing else.
    :raises FloeError: invalid platform, non-semver version, a tag holding other content, or a
        registry fault.
    """
    check_version(version)
    repo = parse(target, "--to", need_version=False)
    key = None
    if sign_key is not None:
        from floe.releases.signing import load_private_key

        key = load_private_key(sign_key)
    release = build_release(platform_path, version)
    _require_passing_tests(platform_path)
    manifest = oci_manifest(release, source, revision)
    digest = digest_of(manifest)
    ref = attrs.evolve(repo, tag=version)
    client = (options or RegistryOptions()).client(ref)
    existing = client.manifest_digest(version)
    if existing is not None:
        if existing == digest or _same_content(client, existing, manifest):
            if key is not None:
                _sign(client, repo, existing, key)
            return Published(str(ref), existing, True, 0)
        raise FloeError(f"{ref} is already published with different content: the registry holds "
                        f"{existing}, this platform builds {digest}. Tags are immutable: publish a new "
                        "version instead")
    if before_upload is not None:
        before_upload()
    uploaded = 0
    blobs = {EMPTY_DIGEST: EMPTY, **{digest_of(data): data for data in release.files.values()}}
    for blob_digest, data in sorted(blobs.items()):
        if not client.has_blob(blob_digest):
            client.push_blob(blob_digest, data)
            uploaded += 1
    stored = client.put_manifest(version, manifest)
    if key is not None:
        _sign(client, repo, stored, key)
    return Published(str(ref), stored, False, uploaded)


def _sign(client, repo, digest: str, key) -> None:
    """Add a signature of ``digest`` to its ``.sig`` manifest (kept: signatures by other keys)."""
    from floe.releases.signing import (check_signed, sign, signature_layers, signature_manifest,
                                       signature_tag)

    identity = f"{repo.host}/{repo.repository}"
    tag = signature_tag(digest)
    layers: list[tuple[bytes, str]] = []
    found = client.find_manifest(tag)
    if found is not None:
        _, existing, _ = found
        for payload_digest, size, signature in signature_layers(existing):
            layers.append((client.blob(payload_digest, size), signature))
        try:
            check_signed(key.public_key(), digest, existing, {digest_of(b): b for b, _ in layers}, tag)
            return  # already signed by this key
        except FloeError:
            pass
    layers.append(sign(key, identity, digest))
    manifest, blobs = signature_manifest(layers)
    for blob_digest, data in sorted(blobs.items()):
        client.push_blob(blob_digest, data)
    client.put_manifest(tag, manifest)


def _require_passing_tests(platform_path: Path) -> None:
    """A platform with test cases is published only when every case passes."""
    from floe.releases.platform_tests import cases_dir, run_platform_tests

    if not cases_dir(platform_path).is_dir():
        return
    failed = [r for r in run_platform_tests(platform_path) if not r.passed]
    if failed:
        raise FloeError("\n".join(f"platform test {r.name} failed: expected it {r.expected}, but {r.detail}; "
                                   "fix the platform or the case (floe platform test), then publish"
                                   for r in failed))


def _same_content(client, existing: str, manifest: bytes) -> bool:
    """Whether the published manifest carries the same files (only annotations such as the
    source revision differ): republishing an unchanged platform from a later commit is a no-op."""
    _, data, _ = client.manifest(existing)
    try:
        theirs = json.loads(data)
    except ValueError:
        return False
    ours = json.loads(manifest)
    key = lambda m: (m.get("artifactType"), m.get("config", {}).get("digest"),  # noqa: E731
                     [(layer.get("digest"), (layer.get("annotations") or {}).get("org.opencontainers.image.title"))
                      for layer in m.get("layers", []) if isinstance(layer, dict)])
    return isinstance(theirs, dict) and key(theirs) == key(ours)
