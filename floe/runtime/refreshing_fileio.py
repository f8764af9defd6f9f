"""A pyiceberg FileIO whose S3 keys follow the run's credential provider.

pyiceberg's ``PyArrowFileIO`` reads its keys from its properties once, when it first builds a
filesystem for a bucket, and keeps that filesystem for as long as the FileIO lives (the catalog
and each loaded table hold one). Keys from STS expire, so a long run would go on presenting
keys that no longer work. :class:`RefreshingFileIO` asks the provider (found through the
``floe.credentials-handle`` property, see :mod:`floe.runtime.live_keys`) for the current keys
every time it is about to hand out a filesystem; when the provider has refreshed them, the
filesystems are built again with the new keys. Files already open keep the filesystem they
were opened with: the provider refreshes keys well before they expire, so those finish in time.

Selected with pyiceberg's ``py-io-impl`` property. Relies on ``PyArrowFileIO.fs_by_scheme``
(the memoised filesystem factory every file operation goes through) and its private
``_initialize_fs`` (reached through :func:`floe.runtime.compat.filesystem_factory`).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from pyiceberg.io.pyarrow import PyArrowFileIO

from floe.runtime import compat, live_keys

#: The ``py-io-impl`` value that selects this FileIO.
IMPL = f"{__name__}.RefreshingFileIO"


class RefreshingFileIO(PyArrowFileIO):
    """``PyArrowFileIO`` that rebuilds its filesystems when the provider's keys change."""

    def __init__(self, properties: Any = None):
        super().__init__(properties=dict(properties or {}))
        self._handle = self.properties.get(live_keys.HANDLE_PROPERTY)
        self._keys: Any = None
        self._refresh_lock = threading.Lock()
        self._install()

    def _install(self) -> None:
        self._filesystems = lru_cache(compat.filesystem_factory(self))
        self.fs_by_scheme = self._filesystem

    def _filesystem(self, scheme: str, netloc: str | None = None) -> Any:
        self._follow_keys()
        return self._filesystems(scheme, netloc)

    def _follow_keys(self) -> None:
        if not self._handle:
            return
        keys = live_keys.current_keys(self._handle)
        if keys is None or keys is self._keys:
            # The run is over (keep the last keys) or the provider still holds the same ones.
            return
        with self._refresh_lock:
            if keys is self._keys:
                return
            self.properties = {**self.properties, **live_keys.s3_properties(keys)}
            # Filesystems built with the old keys are dropped; the next call builds new ones.
            self._filesystems = lru_cache(compat.filesystem_factory(self))
            self._keys = keys

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        for name in ("_filesystems", "_refresh_lock", "_keys"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._keys = None
        self._refresh_lock = threading.Lock()
        self._install()
