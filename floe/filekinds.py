"""What a path on disk is, in words a user recognises, before floe tries to read it.

``Path.is_file()`` is False for a missing file, a directory, a named pipe, a device and a
symbolic-link loop alike, so messages built on it said "not found" for all of them; and
``open()`` on a named pipe blocks until a writer appears. These helpers tell the cases apart
and open only regular files, never blocking.
"""

from __future__ import annotations

import errno
import os
import stat

def file_problem(path: str | os.PathLike) -> str | None:
    """None when ``path`` is a regular file (following symbolic links); else what it is instead,
    phrased to follow the path: ``"is a directory"``, ``"is a named pipe (FIFO) ..."``."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return f"is a symbolic link to {os.readlink(path)}, which does not exist"
        return "not found"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link that loops (it resolves to itself); point it at a real file"
        if exc.errno == errno.ENOTDIR:
            return "not found (a parent of it is a file, not a directory)"
        return f"cannot be read: {exc.strerror or exc}"
    return kind_problem(mode)


def kind_problem(mode: int) -> str | None:
    """What :func:`file_problem` says for a file of ``st_mode`` ``mode``."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, expected a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file; floe reads only regular files"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file; floe reads only regular files"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file; floe reads only regular files"
    return "is not a regular file; floe reads only regular files"


def read_regular(path: str | os.PathLike, limit: int) -> bytes:
    """Up to ``limit`` bytes of a regular file; never blocks on a named pipe.

    :raises NotRegular: when ``path`` is anything but a regular file (with what it is).
    :raises OSError: when it cannot be opened or read.
    """
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        problem = kind_problem(os.fstat(fd).st_mode)
        if problem is not None:
            raise NotRegular(errno.EINVAL, problem)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit)
    finally:
        os.close(fd)


class NotRegular(OSError):
    """A path that exists but is no regular file; ``strerror`` says what it is."""
