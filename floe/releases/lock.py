"""``floe.lock``: which digest each ``oci://`` tag resolved to, beside the file that names it.

Users commit it. While a ref is locked, compiles use the locked digest and need no network;
``floe platform update`` (or ``floe compile --update``) resolves the tags again and moves the
lock. The file is JSON with sorted keys, so a change reads as a one-line diff in review.
"""

from __future__ import annotations

import json
from pathlib import Path

from floe.diagnostics import FloeError
from floe.releases.reference import DIGEST

LOCK_FILE = "floe.lock"
LOCK_VERSION = 1


class Lock:
    """The lock file of one directory."""

    def __init__(self, directory: Path):
        self.path = directory / LOCK_FILE
        self.platforms: dict[str, dict[str, str]] = {}
        self._read()

    def _read(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise FloeError(f"{self.path}: cannot read the lock file ({exc.strerror})") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FloeError(f"{self.path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); restore it "
                            "from version control or delete it and run `floe platform update`") from None
        platforms = data.get("platforms") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("lock_version") != LOCK_VERSION or not isinstance(platforms, dict):
            raise FloeError(f"{self.path}: not a floe lock file of version {LOCK_VERSION}; delete it and run "
                            "`floe platform update`")
        for ref, entry in platforms.items():
            if not (isinstance(entry, dict) and isinstance(entry.get("digest"), str)
                    and DIGEST.fullmatch(entry["digest"])):
                raise FloeError(f"{self.path}: platforms.{ref}.digest must be sha256:<64 hex digits>; "
                                "run `floe platform update` to lock it again")
            self.platforms[ref] = {k: str(v) for k, v in entry.items()}

    def digest(self, ref: str) -> str | None:
        """The locked digest of ``ref``, if any."""
        entry = self.platforms.get(ref)
        return entry["digest"] if entry else None

    def set(self, ref: str, digest: str, version: str | None = None) -> bool:
        """Record ``ref`` → ``digest``; return whether that changed the lock."""
        entry = {"digest": digest, **({"version": version} if version else {})}
        if self.platforms.get(ref) == entry:
            return False
        self.platforms[ref] = entry
        return True

    def write(self) -> None:
        """Write the lock file atomically."""
        from floe.artifacts import write_atomic

        write_atomic(self.path, json.dumps({"lock_version": LOCK_VERSION, "platforms": self.platforms},
                                           sort_keys=True, indent=2) + "\n")
