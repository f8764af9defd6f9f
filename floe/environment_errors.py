"""Problems of the machine, not of floe: a full disk, a read-only folder, a file in a folder's
place. They reach the CLI as ``OSError`` (or a library's wrapper around one) and must read as
what to do, not as "internal error ... this is a bug".
"""

from __future__ import annotations

import errno
import os
from typing import Iterator

#: What to do, by errno.
_ADVICE = {
    errno.ENOSPC: "no space left on the device; free some space (or move the product to a bigger "
                  "volume) and run again",
    errno.EDQUOT: "the disk quota is exhausted; free some space and run again",
    errno.EROFS: "the file system is read-only; run floe where the product can be written",
    errno.EACCES: "permission denied; check the owner and permissions of the product's folders",
    errno.EPERM: "operation not permitted; check the owner and permissions of the product's folders",
    errno.ENOTDIR: "a file stands where floe needs a folder; move the file away",
    errno.EISDIR: "a folder stands where floe needs a file; move the folder away",
    errno.EEXIST: "a file stands where floe needs a folder; move the file away",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) and run again",
    errno.ENAMETOOLONG: "a path is too long; move the product to a shorter path",
    errno.ELOOP: "a symbolic link loops; fix the link",
}
#: SQLite's own words for the same conditions (through sqlite3 or SQLAlchemy).
_SQLITE = {
    "database or disk is full": errno.ENOSPC,
    "attempt to write a readonly database": errno.EROFS,
    "unable to open database file": errno.EACCES,
    "disk i/o error": errno.EIO,
}


def environment_problem(exc: BaseException) -> str | None:
    """A message saying what is wrong with the machine and what to do, or None when ``exc`` is
    not such a problem (then it is a bug)."""
    for error in _chain(exc):
        if isinstance(error, OSError) and error.errno in _ADVICE:
            where = error.filename
            if error.errno == errno.ENOTDIR and isinstance(where, str):
                where = _file_in_the_way(where)
            shown = f"{os.path.relpath(where) if _relative_ok(where) else where}: " if where else ""
            return f"{shown}{_ADVICE[error.errno]} ({error.strerror or os.strerror(error.errno)})"
        if isinstance(error, OSError) and error.errno == errno.EIO:
            return f"input/output error on the disk ({error.filename or 'a file of the product'}); check the device"
        text = str(error).lower()
        for phrase, code in _SQLITE.items():
            if phrase in text and type(error).__name__ in ("OperationalError", "DatabaseError"):
                advice = _ADVICE.get(code, "the disk holding the product may be full or failing; "
                                           "free some space and check the device")
                return f"a SQLite database of the product: {phrase} ({advice})"
        if type(error).__name__ == "NoRegionError":
            return ("no AWS region is configured: set region: in the platform.yaml section that "
                    "talks to AWS, or $AWS_REGION / $AWS_DEFAULT_REGION")
    return None


def _file_in_the_way(path: str) -> str:
    """The nearest ancestor of ``path`` that exists but is no folder (the one to move away)."""
    current = os.path.dirname(path)
    while current and current != os.path.dirname(current):
        if os.path.lexists(current) and not os.path.isdir(current):
            return current
        current = os.path.dirname(current)
    return path


def _relative_ok(path: object) -> bool:
    try:
        return isinstance(path, str) and not os.path.relpath(path).startswith("../..")
    except ValueError:
        return False


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        # SQLAlchemy keeps the driver's exception as `.orig`.
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException) and id(orig) not in seen:
            yield orig
            seen.add(id(orig))
        current = current.__cause__ or current.__context__
