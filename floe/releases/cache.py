"""The content-addressed cache of pulled releases: manifests and blobs stored by digest.

Where: ``$FLOE_CACHE_DIR``, else ``$XDG_CACHE_HOME/floe``, else ``~/.cache/floe``; objects under
``oci/blobs/sha256/<hex>``. A file is written through a temporary file and a rename, so a
crash of floe leaves the old state or the whole new object, and every read hashes the bytes again: a
cache that was tampered with, or damaged by a disk, is refused by digest, never used.
"""

from __future__ import annotations

import os
from pathlib import Path

from floe.diagnostics import FloeError
from floe.releases.reference import digest_of


def cache_dir() -> Path:
    """The cache root (created on first write)."""
    explicit = os.environ.get("FLOE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "floe"


class CorruptCache(FloeError):
    """A cached object whose bytes no longer hash to its digest."""


class Cache:
    """Blobs and manifests by digest, verified on every read."""

    def __init__(self, root: Path | None = None):
        self.root = (root or cache_dir()) / "oci" / "blobs" / "sha256"

    def path(self, digest: str) -> Path:
        """Where the object ``digest`` (``sha256:<hex>``) is stored."""
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or len(hexdigest) != 64 or not all(c in "0123456789abcdef" for c in hexdigest):
            raise FloeError(f"'{digest}' is not a sha256 digest")
        return self.root / hexdigest

    def signature_pointer(self, digest: str) -> str | None:
        """The digest of the cached signature manifest of ``digest``, if one was cached.

        The pointer is not trusted: what it names is hashed and its signatures verified again.
        """
        try:
            text = self._pointer(digest).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return text if len(text) == 71 and text.startswith("sha256:") else None

    def set_signature_pointer(self, digest: str, signature_digest: str) -> None:
        """Remember which cached manifest holds the signatures of ``digest``."""
        from floe.artifacts import write_atomic

        write_atomic(self._pointer(digest), signature_digest + "\n")

    def _pointer(self, digest: str) -> Path:
        return self.root.parent.parent / "signatures" / self.path(digest).name

    def read(self, digest: str) -> bytes | None:
        """The object's bytes, or None when it is not cached; :class:`CorruptCache` on a mismatch."""
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        actual = digest_of(data)
        if actual != digest:
            raise CorruptCache(f"cached object {digest} is corrupt: its bytes hash to {actual}. It was "
                               f"changed after floe verified it; delete {path} and run the command again "
                               "to pull it afresh")
        return data

    def write(self, digest: str, data: bytes) -> None:
        """Store verified bytes atomically (the digest is checked again here)."""
        actual = digest_of(data)
        if actual != digest:
            raise FloeError(f"refusing to cache {actual} as {digest}")
        path = self.path(digest)
        if path.is_file():
            return
        from floe.artifacts import write_atomic

        # Not durable: a cache can be pulled again, and an object torn by a power failure cannot
        # be used by mistake, because every read hashes it again. The rename still makes each
        # object appear whole or not at all to every other process.
        write_atomic(path, data, durable=False)
