"""Pulling a release: a tag resolves to a digest once (then ``floe.lock`` holds it), every
manifest and blob is verified against its digest whether it comes from the registry or the
cache, and nothing enters the cache until the whole release has been verified.

With the digest locked (or written in the reference) and the release cached, no network and
no HTTP client are used at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from floe.diagnostics import FloeError
from floe.releases.artifact import check_manifest
from floe.releases.build import MANIFEST, PLATFORM, RELEASE_FORMAT
from floe.releases.cache import Cache
from floe.releases.lock import Lock
from floe.releases.reference import Reference, digest_of, parse


@attrs.frozen
class RegistryOptions:
    """How to reach registries, from the command line (the environment fills in the rest)."""

    insecure: bool = False
    ca_bundle: str | None = None
    username: str | None = None
    password_secret: str | None = None
    token_secret: str | None = None

    def client(self, ref: Reference) -> Any:
        """A :class:`~floe.releases.registry.Registry` for ``ref`` (imports the HTTP client)."""
        from floe.releases.registry import Registry, settings_for

        return Registry(ref, settings_for(ref.host, self.insecure, self.ca_bundle, self.username,
                                          self.password_secret, self.token_secret))


@attrs.frozen
class PulledRelease:
    """A verified release: its reference, manifest digest, files and ``manifest.json``."""

    ref: str
    digest: str
    files: dict[str, bytes]
    release: dict[str, Any]
    #: The cached copy of the release's platform.yaml (what messages and chains point at).
    platform_path: Path
    #: Whether the registry was asked (False: lock and cache answered everything).
    contacted: bool

    def document(self) -> Any:
        """The release's platform.yaml as a loaded document named by the reference."""
        from floe.yamlsafe import load_bytes

        return load_bytes(self.files[PLATFORM], self.ref)


def pull(ref_text: str, lock_dir: Path | None, update: bool = False, what: str = "platform.ref",
         options: RegistryOptions | None = None, cache: Cache | None = None,
         public_key: Any = None) -> PulledRelease:
    """Resolve ``ref_text`` (locked digest, else the registry) and return the verified release.

    :param lock_dir: the directory whose ``floe.lock`` pins tags (None: no lock is kept).
    :param update: resolve tags again even when locked, and move the lock.
    :param public_key: when given, the release must carry a valid signature by this key
        (checked again on every call, from the cache when it holds the signature).
    :raises FloeError: naming the reference and the digest for anything that does not verify.
    """
    ref = parse(ref_text, what)
    key = str(ref)
    options = options or RegistryOptions()
    cache = cache or Cache()
    lock = Lock(lock_dir) if lock_dir is not None and ref.digest is None else None
    client = None
    digest = ref.digest or (None if update or lock is None else lock.digest(key))
    fetched: dict[str, bytes] = {}
    if digest is None:
        client = options.client(ref)
        try:
            found = client.find_manifest(ref.tag)
        except FloeError as exc:
            raise FloeError([attrs.evolve(d, message=f"{what} '{key}': {d.message} (the tag is not in "
                                           "floe.lock yet, so floe needs the registry once to resolve it)")
                              for d in exc.diagnostics]) from None
        if found is None:
            raise FloeError(f"{what} '{key}': tag '{ref.tag}' not found in {ref.repo_url}; publish it "
                            "first (floe platform publish) or fix the tag")
        digest, tagged, _ = found  # verified: the bytes hash to the digest
        fetched[digest] = tagged
    where = f"{what} '{ref.with_digest(digest)}'"
    manifest = cache.read(digest) or fetched.get(digest)
    if manifest is None:
        client = client or options.client(ref)
        _, manifest, _ = client.manifest(digest)
        fetched[digest] = manifest
    layers = check_manifest(manifest, where)
    signature = None
    if public_key is not None:
        client, signature = _verify_signature(ref, digest, public_key, cache, client, options, fetched, where)
    files: dict[str, bytes] = {}
    missing = []
    for title, layer_digest, size in layers:
        data = cache.read(layer_digest)
        if data is not None and len(data) != size:
            raise FloeError(f"{where}: layer '{title}' is {size} bytes in the manifest but {len(data)} "
                            f"in the cache under the same digest {layer_digest}")
        if data is None:
            missing.append((title, layer_digest, size))
        else:
            files[title] = data
    if missing:
        client = client or options.client(ref)
        # One blob after another: measured here, a thread pool cost more than it saved on a
        # dozen small blobs (bench/release_speed.py).
        for title, layer_digest, size in missing:
            fetched[layer_digest] = files[title] = client.blob(layer_digest, size)
    files = {title: files[title] for title, _, _ in layers}
    release = _release_manifest(files, where)
    # Blobs first, the manifest last: a cached manifest always finds its blobs beside it.
    for object_digest in sorted(fetched, key=lambda d: d == digest):
        cache.write(object_digest, fetched[object_digest])
    if signature is not None:
        cache.set_signature_pointer(digest, signature)
    if lock is not None and lock.set(key, digest, release.get("version")):
        lock.write()
    platform_digest = next(d for t, d, _ in layers if t == PLATFORM)
    return PulledRelease(key, digest, files, release, cache.path(platform_digest), client is not None)


def _verify_signature(ref: Reference, digest: str, public_key: Any, cache: Cache, client: Any,
                      options: RegistryOptions, fetched: dict[str, bytes], where: str) -> tuple[Any, str | None]:
    """Check the release's signature: from the cache when it holds one that verifies, else
    from the registry (its ``.sig`` manifest and payloads join ``fetched``, to be cached once
    the whole release verified). Returns the client and the digest of a newly fetched
    signature manifest."""
    from floe.releases.signing import check_signed, signature_layers, signature_tag

    pointer = cache.signature_pointer(digest)
    if pointer is not None:
        manifest = cache.read(pointer)
        if manifest is not None:
            payloads = {d: cache.read(d) for d, _, _ in signature_layers(manifest)}
            if all(v is not None for v in payloads.values()):
                try:
                    check_signed(public_key, digest, manifest, payloads, where)
                    return client, None
                except FloeError:
                    pass  # the registry may hold a newer signature by the required key
    client = client or options.client(ref)
    found = client.find_manifest(signature_tag(digest))
    if found is None:
        raise FloeError(f"{where}: the release is not signed (no {signature_tag(digest)} in {ref.repo_url}); "
                        "it is required to be: publish it with --sign, or remove the verify setting")
    sig_digest, manifest, _ = found
    payloads = {d: client.blob(d, size) for d, size, _ in signature_layers(manifest)}
    check_signed(public_key, digest, manifest, payloads, where)
    fetched.update(payloads)
    fetched[sig_digest] = manifest
    return client, sig_digest


def _release_manifest(files: dict[str, bytes], where: str) -> dict[str, Any]:
    """``manifest.json``, checked: a known format, and every file it lists present and intact."""
    try:
        release = json.loads(files[MANIFEST])
    except ValueError:
        raise FloeError(f"{where}: {MANIFEST} is not JSON") from None
    if not isinstance(release, dict) or str(release.get("format", "")).split(".")[0] != RELEASE_FORMAT:
        raise FloeError(f"{where}: release format {release.get('format') if isinstance(release, dict) else '?'} "
                        f"is not one this floe reads (format {RELEASE_FORMAT}); upgrade floe")
    listed = release.get("files") if isinstance(release.get("files"), dict) else {}
    for name, digest in listed.items():
        data = files.get(name)
        if data is None or digest_of(data) != digest:
            raise FloeError(f"{where}: release file '{name}' is missing or does not match {digest} "
                            f"as {MANIFEST} lists it")
    return release
