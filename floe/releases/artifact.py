"""The OCI form of a release: an OCI 1.1 image manifest with floe's artifact type, one layer
per release file (titled with its path), and the standard annotations.

The config is the OCI empty descriptor, as the OCI 1.1 image spec recommends for artifacts
that need no config. Every layer's media type says what it holds, so registries and other OCI
clients can list a release without floe.
"""

from __future__ import annotations

import base64
import json
from pathlib import PurePosixPath

from floe.diagnostics import FloeError
from floe.releases.build import MANIFEST, PLATFORM, Release
from floe.releases.reference import DIGEST, digest_of

ARTIFACT_TYPE = "application/vnd.floe.platform.release.v1"
MEDIA_RELEASE_MANIFEST = "application/vnd.floe.platform.manifest.v1+json"
MEDIA_PLATFORM = "application/vnd.floe.platform.config.v1+yaml"
MEDIA_POLICY = "application/vnd.floe.platform.policy.v1+json"
MEDIA_SCHEMA = "application/vnd.floe.platform.schema.v1+json"
EMPTY_MEDIA = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
EMPTY_DIGEST = digest_of(EMPTY)
TITLE = "org.opencontainers.image.title"
#: The largest release floe pulls (the sum of its layers); a platform release is kilobytes.
MAX_RELEASE_BYTES = 16 * 1024 * 1024
MAX_LAYERS = 1000


def media_type(name: str) -> str:
    """The media type of one release file."""
    if name == MANIFEST:
        return MEDIA_RELEASE_MANIFEST
    if name == PLATFORM:
        return MEDIA_PLATFORM
    if name.startswith("schemas/"):
        return MEDIA_SCHEMA
    return MEDIA_POLICY


def oci_manifest(release: Release, source: str | None = None, revision: str | None = None) -> bytes:
    """The manifest bytes exactly as pushed: sorted keys, compact, so the digest is reproducible."""
    annotations = {"org.opencontainers.image.title": release.name or "platform",
                   "dev.floe.platform.name": release.name or ""}
    if release.version:
        annotations["org.opencontainers.image.version"] = release.version
    if source:
        annotations["org.opencontainers.image.source"] = source
    if revision:
        annotations["org.opencontainers.image.revision"] = revision
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_MEDIA, "digest": EMPTY_DIGEST, "size": len(EMPTY),
                   "data": base64.b64encode(EMPTY).decode()},
        "layers": [{"mediaType": media_type(name), "digest": digest_of(data), "size": len(data),
                    "annotations": {TITLE: name}} for name, data in release.files.items()],
        "annotations": annotations,
    }
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def check_manifest(data: bytes, where: str) -> list[tuple[str, str, int]]:
    """Validate a pulled manifest; return its layers as ``(title, digest, size)``.

    Refuses what is not a floe release, layer titles that would escape the release
    (``../``, absolute paths, backslashes), duplicate titles, and releases over the size limit,
    before any blob is downloaded.
    """
    try:
        manifest = json.loads(data)
    except ValueError:
        raise FloeError(f"{where}: the manifest is not JSON; is this an OCI registry?") from None
    if not isinstance(manifest, dict) or manifest.get("schemaVersion") != 2:
        raise FloeError(f"{where}: not an OCI image manifest (schemaVersion 2)")
    kind = manifest.get("artifactType")
    if kind != ARTIFACT_TYPE:
        raise FloeError(f"{where}: artifact type is {kind or '(none)'}, not a floe platform release "
                        f"({ARTIFACT_TYPE}); the reference points at something else")
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not layers or len(layers) > MAX_LAYERS:
        raise FloeError(f"{where}: the manifest lists no layers (or more than {MAX_LAYERS})")
    out, seen, total = [], set(), 0
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise FloeError(f"{where}: layers[{index}] is not a descriptor")
        title = (layer.get("annotations") or {}).get(TITLE) if isinstance(layer.get("annotations"), dict) else None
        digest, size = layer.get("digest"), layer.get("size")
        if not isinstance(title, str) or not safe_title(title):
            raise FloeError(f"{where}: layers[{index}] has the title {title!r}; a release file must be "
                            "a relative path inside the release (no '..', no absolute path)")
        if title in seen:
            raise FloeError(f"{where}: two layers are titled '{title}'")
        if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
            raise FloeError(f"{where}: layer '{title}' has no sha256 digest")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise FloeError(f"{where}: layer '{title}' has no valid size")
        total += size
        if total > MAX_RELEASE_BYTES:
            raise FloeError(f"{where}: the release is larger than {MAX_RELEASE_BYTES // (1024 * 1024)} MiB; "
                            "a platform release is kilobytes, refusing to download it")
        seen.add(title)
        out.append((title, digest, size))
    if MANIFEST not in seen or PLATFORM not in seen:
        raise FloeError(f"{where}: the release has no {MANIFEST} or {PLATFORM}")
    return out


def safe_title(title: str) -> bool:
    """Whether a layer title is a plain relative path that stays inside the release."""
    if not title or "\\" in title or "\x00" in title or title.startswith("/"):
        return False
    parts = PurePosixPath(title).parts
    return all(p not in ("..", ".", "") for p in parts) and ":" not in parts[0]
