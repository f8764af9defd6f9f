"""The product's run lock, ``.floe/run.lock``: one run writes a product's tables at a time."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from floe.diagnostics import FloeError


@contextlib.contextmanager
def run_lock(state_dir: Path, wait: bool = False) -> Iterator[None]:
    """Hold ``.floe/run.lock`` for the run; refuse at once when another run holds it, or, with
    ``wait``, wait until it is released.

    The lock is an ``flock``: the kernel releases it when the holder exits, however it exits,
    so a killed run never leaves a stale lock behind.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "run.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise FloeError(f"another floe run of this product is in progress (pid {holder}); "
                            "wait for it to finish and run again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
