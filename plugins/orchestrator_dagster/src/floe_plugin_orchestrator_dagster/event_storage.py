"""Dagster's SQLite event log, minus an SQLAlchemy engine per event.

Dagster's ``SqliteEventLogStorage`` builds a new engine, opens the database and disposes of it
for every event it stores, and an asset event touches two databases; a 50-model run stores
~160 events, which cost ~1.4 s of CPU. This subclass keeps one engine and connection per
database for the few databases in use (the index and the runs being written or read), in the
same files and layout, so the Dagster UI reads the history as before.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from typing import Any, Iterator

from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from floe.runtime import compat

#: Databases kept open at once: the index, the run being written, and a few the UI reads.
OPEN_DATABASES = 8
#: How long SQLite waits for a lock another process holds (Dagster's own value).
BUSY_TIMEOUT_SECONDS = 15


class FloeSqliteEventLogStorage(compat.sqlite_event_log_storage()):  # type: ignore[misc]
    """``SqliteEventLogStorage`` with its database connections reused between events.

    Every use of a connection happens under the storage's lock (as in Dagster's class), so one
    connection per database is never used by two threads at once.
    """

    def __init__(self, base_dir: str, inst_data: Any = None):
        self._engines: OrderedDict[str, Any] = OrderedDict()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> "FloeSqliteEventLogStorage":
        """Build the storage from ``dagster.yaml`` (Dagster's method names its own class)."""
        return cls(inst_data=inst_data, **config_value)

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:  # overrides Dagster's (floe.runtime.compat)
        with compat.event_log_lock(self):
            engine = self._engines.get(shard)
            if engine is None:
                engine = create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                                       connect_args={"timeout": BUSY_TIMEOUT_SECONDS,
                                                     "check_same_thread": False})
                initialized = compat.event_log_initialized(self)
                if shard not in initialized:
                    compat.event_log_init_db(self, engine)
                    initialized.add(shard)
                self._engines[shard] = engine
                while len(self._engines) > OPEN_DATABASES:
                    self._engines.popitem(last=False)[1].dispose()
            else:
                self._engines.move_to_end(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event(self, event: Any) -> None:
        """Store ``event`` with every secret value floe resolved masked in its messages."""
        super().store_event(_scrubbed(event))

    def delete_events(self, run_id: str) -> None:
        """Delete a run's events and its database file (Dagster's own method empties the file
        but keeps it, so deleted runs would still fill the disk)."""
        super().delete_events(run_id)
        with compat.event_log_lock(self):
            engine = self._engines.pop(run_id, None)
            if engine is not None:
                engine.dispose()
            compat.event_log_initialized(self).discard(run_id)
        path = self.path_for_shard(run_id)
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path + suffix)

    def wipe(self) -> None:
        """Delete every run's database; close them first."""
        self._close_all()
        super().wipe()

    def dispose(self) -> None:
        """Close every database, then whatever Dagster's storage holds."""
        self._close_all()
        super().dispose()

    def _close_all(self) -> None:
        with compat.event_log_lock(self):
            while self._engines:
                self._engines.popitem()[1].dispose()


def _scrubbed(event: Any) -> Any:
    from floe.runtime.scrub import active, contains_secret, scrub

    if not active():  # no secret resolved in this process: nothing to look for
        return event
    from dagster import deserialize_value, serialize_value

    text = serialize_value(event)
    return deserialize_value(scrub(text), type(event)) if contains_secret(text) else event
