"""Reading Iceberg manifest lists and manifests, with each Avro schema resolved once.

pyiceberg converts a file's Avro schema and builds its reader anew for every file it opens;
for the small manifests a publish reads, that is over 90 % of the cost (about 1.5 ms a file).
Every manifest of a table shares one schema, so floe resolves it once per process and reuses
the reader (pyiceberg's readers keep no state between reads).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from floe.runtime import compat

_RESOLVED: dict[tuple, tuple[Any, Any]] = {}
_RESOLVED_MAX = 256
_LOCK = threading.Lock()


def of_snapshot(io: Any, snapshot: Any) -> list[Any]:
    """The ``ManifestFile`` entries of a snapshot's manifest list."""
    from pyiceberg.manifest import (DEFAULT_READ_VERSION, MANIFEST_LIST_FILE_SCHEMAS, ManifestContent,
                                    ManifestFile, PartitionFieldSummary)

    return _read(io, snapshot.manifest_list, MANIFEST_LIST_FILE_SCHEMAS[DEFAULT_READ_VERSION],
                 {-1: ManifestFile, 508: PartitionFieldSummary}, {517: ManifestContent})


def entries(io: Any, manifest: Any) -> list[Any]:
    """The live (``ADDED`` and ``EXISTING``) entries of a manifest, with the sequence numbers
    they inherit from the manifest filled in."""
    from pyiceberg.manifest import (DEFAULT_READ_VERSION, MANIFEST_ENTRY_SCHEMAS, DataFile,
                                    DataFileContent, FileFormat, ManifestEntry, ManifestEntryStatus)

    read = _read(io, manifest.manifest_path, MANIFEST_ENTRY_SCHEMAS[DEFAULT_READ_VERSION],
                 {-1: ManifestEntry, 2: DataFile},
                 {0: ManifestEntryStatus, 101: FileFormat, 134: DataFileContent})
    return [compat.inherit_from_manifest(entry, manifest) for entry in read
            if entry.status != ManifestEntryStatus.DELETED]


def _read(io: Any, path: str, read_schema: Any, read_types: dict, read_enums: dict) -> list[Any]:
    with _avro_file()(io.new_input(path), read_schema, read_types, read_enums) as reader:
        return list(reader)


@functools.cache
def _avro_file() -> type:
    from pyiceberg.avro.decoder import new_decoder
    from pyiceberg.avro.resolver import resolve_reader

    class ResolvedOnce(compat.avro_file_class()):  # type: ignore[misc]
        """pyiceberg's Avro reader, taking the schema and reader tree from the cache."""

        def __enter__(self) -> "ResolvedOnce":
            with self.input_file.open() as stream:
                self.decoder = new_decoder(stream.read())
            self.header = compat.read_avro_header(self)
            key = (self.header.meta.get("avro.schema"), id(self.read_schema),
                   tuple(self.read_types.values()), tuple(self.read_enums.values()))
            resolved = _RESOLVED.get(key)
            if resolved is None:
                schema = self.header.get_schema()
                resolved = schema, resolve_reader(schema, self.read_schema, self.read_types, self.read_enums)
                with _LOCK:
                    if len(_RESOLVED) >= _RESOLVED_MAX:
                        _RESOLVED.clear()
                    _RESOLVED[key] = resolved
            self.schema, self.reader = resolved
            return self

    return ResolvedOnce
