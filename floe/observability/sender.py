"""Delivering observability payloads without ever holding a run up.

:class:`HttpSender` (a :class:`QueuedSender`) posts payloads from a background thread through a bounded queue, with a
short timeout per request. The first failure (refused connection, no answer in time, an HTTP
error status) opens the circuit: later payloads are dropped at once instead of each waiting for
its own timeout, so an endpoint that is down costs a run at most one timeout, however many
events the run has. :meth:`HttpSender.close` waits for what is queued until a deadline and then
gives up; the thread is a daemon, so an endpoint that hangs never keeps the process alive.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import socket
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Mapping

#: Seconds one request may take before the endpoint counts as not answering.
REQUEST_TIMEOUT = 1.0
#: Payloads waiting to be sent; more are dropped (and counted) rather than held in memory.
QUEUE_SIZE = 10_000
#: Size at which a local events file is set aside as ``<name>.1`` (see :class:`FileSender`).
FILE_MAX_BYTES = 50 * 1024 * 1024
_STOP = object()


def endpoint_url(endpoint: str, path: str) -> str:
    """The endpoint's URL for ``path``: ``http://collector:4318`` + ``/v1/traces`` →
    ``http://collector:4318/v1/traces``; an endpoint that already ends with it is kept."""
    base = endpoint.rstrip("/")
    return base if base.endswith(path) else base + path


class QueuedSender:
    """Delivers items in order on a background thread, through a bounded queue.

    The first failure opens the circuit: later items are dropped (and counted) at once.
    Subclasses set their own attributes, then call ``super().__init__`` (which starts the
    thread), and implement :meth:`_deliver`; :meth:`_start` and :meth:`_stop` run on the thread
    before the first and after the last item.

    :param what: what the items are, for the warning (``"lineage events"``).
    :param timeout: seconds one delivery may take, as the warning states it.
    """

    def __init__(self, url: str, what: str, timeout: float, thread_name: str):
        self.url = url
        self.what = what
        self.dropped = 0
        #: Why delivery failed (``connection refused``, ``HTTP 500``...), or None.
        self.failure: str | None = None
        self._timeout = timeout
        self._queue: queue.Queue = queue.Queue(QUEUE_SIZE)
        self._count_lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name=thread_name, daemon=True)
        self._thread.start()

    def send(self, item: Any) -> None:
        """Queue ``item``; never blocks, never raises."""
        if self.failure is not None:
            self._drop()
            return
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._drop()

    def close(self, deadline: float) -> None:
        """Deliver what is queued until ``deadline`` (a ``time.monotonic()`` value), then give up."""
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            pass
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            # Still waiting on the endpoint: what is left is dropped with the daemon thread.
            self.failure = self.failure or f"no answer within {self._timeout:g} s"
            self._drop(self._queue.qsize())

    def warning(self) -> str | None:
        """One line for the user when something was not delivered, else None."""
        if self.failure is None and not self.dropped:
            return None
        return (f"observability: could not send {self.what} to {self.url} "
                f"({self.failure or 'queue full'}); {self.dropped} not sent. "
                "The run itself is not affected.")

    def _drop(self, count: int = 1) -> None:
        with self._count_lock:
            self.dropped += count

    # -- the background thread --------------------------------------------------------------

    def _work(self) -> None:
        try:
            self._start()
        except Exception as exc:  # noqa: BLE001 - a destination that cannot be set up only means "not delivered"
            self.failure = self._reason(exc)
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            if self.failure is not None:
                self._drop()
                continue
            try:
                self._deliver(item)
            except Exception as exc:  # noqa: BLE001 - any failure only means "not delivered"
                self.failure = self._reason(exc)
                self._drop()
        self._stop()

    def _start(self) -> None:
        """Set the destination up (on the thread, so that slow set-up never holds a run up)."""

    def _deliver(self, item: Any) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        """Release the destination after the last item."""

    def _reason(self, exc: Exception) -> str:
        return _reason(exc, self._timeout)


class HttpSender(QueuedSender):
    """POSTs payloads (bytes, or dicts sent as JSON) to one URL, in order, on a background thread.

    :param what: what the payloads are, for the warning (``"lineage events"``).
    :param content_type: the payloads' media type; dicts are sent as JSON.
    :param headers: sent with every request (they may carry credentials: never printed).
    """

    def __init__(self, url: str, what: str, content_type: str = "application/json",
                 timeout: float = REQUEST_TIMEOUT, headers: Mapping[str, str] | None = None):
        self._headers = {**(headers or {}), "Content-Type": content_type}
        self._parts = urllib.parse.urlsplit(url)
        self._connection: http.client.HTTPConnection | None = None
        super().__init__(url, what, timeout, thread_name=f"floe-{what.split()[0]}-sender")

    def _stop(self) -> None:
        if self._connection is not None:
            self._connection.close()

    def _deliver(self, payload: Any) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        if self._connection is None:
            cls = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            self._connection = cls(self._parts.netloc, timeout=self._timeout)
        path = self._parts.path or "/"
        if self._parts.query:
            path += "?" + self._parts.query
        try:
            self._connection.request("POST", path, body=body, headers=self._headers)
            response = self._connection.getresponse()
            response.read()
        except BaseException:
            self._connection.close()
            self._connection = None
            raise
        if response.status >= 400:
            raise _HttpStatus(response.status)


class _HttpStatus(Exception):
    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")


def _reason(exc: Exception, timeout: float) -> str:
    if isinstance(exc, _HttpStatus):
        return str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    return f"{type(exc).__name__}: {exc}"[:200]


class FileSender:
    """Appends JSON payloads to a JSON Lines file when the run ends (one write per run).

    The file does not grow without end: once it passes ``max_bytes`` it becomes ``<name>.1``
    (replacing the previous one) and the next run starts a new file, so at most about twice
    ``max_bytes`` stay on disk.
    """

    def __init__(self, path: Path, what: str, max_bytes: int = FILE_MAX_BYTES):
        self.path = path
        self.what = what
        self.max_bytes = max_bytes
        self.failure: str | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def send(self, payload: dict) -> None:
        """Keep ``payload`` for the write at :meth:`close`."""
        line = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        with self._lock:
            self._lines.append(line)

    def close(self, deadline: float) -> None:
        """Append what the run produced (local disk: the deadline does not apply)."""
        with self._lock:
            lines, self._lines = self._lines, []
        if not lines:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
                full = fh.tell() > self.max_bytes
            if full:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        except OSError as exc:
            self.failure = exc.strerror or str(exc)

    def warning(self) -> str | None:
        """One line for the user when the file could not be written."""
        if self.failure is None:
            return None
        return (f"observability: could not write {self.what} to {self.path} ({self.failure}). "
                "The run itself is not affected.")
