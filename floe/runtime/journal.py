"""The publish journal: every file a run writes into the warehouse, recorded before it exists.

A run that is killed (SIGKILL, a power cut of the process) between writing a table's files and
committing them leaves files nothing references. The journal names them: before a data file,
manifest, manifest list or metadata file is created, its path is appended to
``<state dir>/publish/<run>.journal`` (flushed to the operating system, so it survives the
process being killed). A run that finishes, committed or not, deletes what it does not need and
removes its journal. A journal still there when the next run starts belongs to a run that was
killed: :func:`sweep` deletes the files of every table that run did not commit, and the files
that a committed table no longer references (snapshots its commit expired).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from floe.runtime import snapshots

#: Entry kinds: a file the run wrote, and a file the run's commit makes unreferenced.
WRITTEN, OBSOLETE = "w", "x"


class Journal:
    """The journal of one run; safe to record into from several publishing threads."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{uuid.uuid4().hex}.journal"
        self._lock = threading.Lock()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def record(self, table: str, kind: str, paths: Iterable[str]) -> None:
        """Append ``paths`` of ``table`` and hand them to the OS before anything is written."""
        lines = "".join(json.dumps([table, kind, path]) + "\n" for path in paths)
        if not lines:
            return
        with self._lock:
            self._file.write(lines)
            self._file.flush()

    def close(self) -> None:
        """The run has finished with its files: the journal is not needed any more."""
        with self._lock:
            self._file.close()
        self.path.unlink(missing_ok=True)


class JournalingIO:
    """A pyiceberg ``FileIO`` that records each file a table's publish creates: in ``written``,
    and in the journal (when there is one) before the file exists.

    It wraps the table's own ``FileIO``; reads and deletes go straight through.
    """

    def __init__(self, io: Any, journal: "Journal | None", table: str):
        self._io = io
        self._journal = journal
        self._table = table
        self.properties = io.properties
        #: Every location this IO created a file at, in order.
        self.written: list[str] = []

    def new_output(self, location: str) -> Any:
        if self._journal is not None:
            self._journal.record(self._table, WRITTEN, [location])
        self.written.append(location)
        return self._io.new_output(location)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._io, name)


def sweep(catalog: Any, directory: Path) -> int:
    """Delete what runs killed before they finished left in the warehouse; return the count.

    Call it holding the product's run lock, so no journal in ``directory`` is in use.
    A table whose current history holds a snapshot or metadata file the killed run wrote was
    committed by it: only the files its commit made obsolete are deleted. Any other table
    keeps none of the killed run's files.
    """
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.io import load_file_io

    deleted = 0
    for journal in sorted(directory.glob("*.journal")) if directory.is_dir() else []:
        entries: dict[str, dict[str, list[str]]] = defaultdict(lambda: {WRITTEN: [], OBSOLETE: []})
        for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                table, kind, path = json.loads(line)
            except ValueError:
                continue  # the last line of a killed run may be cut short
            entries[table][kind].append(path)
        for table, files in entries.items():
            try:
                loaded = catalog.load_table(table)
            except NoSuchTableError:
                loaded = None
            written = set(files[WRITTEN])
            if loaded is not None and written & _history(loaded.metadata, loaded.metadata_location):
                doomed = files[OBSOLETE]
            else:
                doomed = files[WRITTEN]
            io = loaded.io if loaded is not None else load_file_io(catalog.properties, next(iter(written), None))
            snapshots.delete_files(io, doomed)
            deleted += len(doomed)
        os.unlink(journal)
    return deleted


def _history(metadata: Any, location: str | None) -> set[str]:
    files = {snapshot.manifest_list for snapshot in metadata.snapshots}
    files |= {entry.metadata_file for entry in metadata.metadata_log}
    if location:
        files.add(location)
    return files
