"""Scrubbing: no secret value floe resolved leaves the process in a message.

:class:`floe.runtime.secrets.SecretValue` masks itself, but once revealed for the call that
needs it the plain string can travel anywhere: a user's Python asset may read a secret and
raise an exception that quotes it, a client library may put a token in its error text. Every
``SecretValue`` created in this process (every secret a backend resolved, every token or key a
credential provider obtained) is remembered here, and :func:`scrub` replaces each occurrence of
one in a text with the mask. floe applies it where messages leave the run: what the CLI prints,
the run log (``.floe/runs.jsonl``), lineage events and spans, and Dagster's run storage.

Values shorter than :data:`MIN_LENGTH` are not scrubbed: replacing every ``abc`` in every
message would garble them all, and no real secret is that short.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

MASK = "**********"
#: The shortest value that is scrubbed.
MIN_LENGTH = 4

_values: set[str] = set()
_lock = threading.Lock()
_ordered: tuple[str, ...] = ()


def remember(value: str) -> None:
    """Scrub ``value`` from every later message (called for every secret value created)."""
    global _ordered
    if len(value) < MIN_LENGTH or value in _values:
        return
    forms = {value}
    # How the value reads once written into JSON (quotes, backslashes, non-ASCII escaped).
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(repr(value)[1:-1])
    with _lock:
        _values.add(value)
        # Longest first: a secret that contains another is replaced whole.
        _ordered = tuple(sorted(set(_ordered) | {f for f in forms if len(f) >= MIN_LENGTH},
                                key=lambda f: (-len(f), f)))


def scrub(text: Any) -> Any:
    """``text`` with every remembered secret value replaced by the mask; non-strings unchanged."""
    if not isinstance(text, str) or not _ordered:
        return text
    for value in _ordered:
        if value in text:
            text = text.replace(value, MASK)
    return text


def active() -> bool:
    """True once any value is remembered; callers skip serialising for :func:`scrub` before."""
    return bool(_ordered)


def contains_secret(text: str) -> bool:
    """True when ``text`` holds a remembered secret value."""
    return any(value in text for value in _ordered)


def scrub_exception(exc: BaseException) -> BaseException:
    """``exc`` itself when its message holds no secret; else an exception that says the same
    with every secret value masked (same traceback, no chained causes), so a user's exception
    never carries a secret onward.

    The copy keeps ``exc``'s type when its arguments make its message (``ValueError("...")``);
    otherwise it is a :class:`ScrubbedError` naming the original type.
    """
    text = f"{type(exc).__name__}: {exc}"
    if not contains_secret(text) and not _chain_contains_secret(exc):
        return exc
    try:
        same = copy.copy(exc)
        same.args = tuple(scrub(arg) for arg in exc.args)
        if not contains_secret(f"{same}"):
            same.__cause__ = same.__context__ = None
            same.__suppress_context__ = True
            return same.with_traceback(exc.__traceback__)
    except Exception:  # noqa: BLE001 - an exception class that cannot be copied gets the wrapper
        pass
    scrubbed = ScrubbedError(scrub(text))
    scrubbed.__suppress_context__ = True
    return scrubbed.with_traceback(exc.__traceback__)


def _chain_contains_secret(exc: BaseException) -> bool:
    seen = set()
    current = exc.__cause__ or exc.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if contains_secret(str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


class ScrubbedError(Exception):
    """An exception whose message held a secret value: the message with the value masked."""


def forget_all() -> None:
    """Forget every remembered value (for test isolation; a run never needs it)."""
    global _ordered
    with _lock:
        _values.clear()
        _ordered = ()
