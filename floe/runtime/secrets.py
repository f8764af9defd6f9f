"""Secret values at run time: held masked, resolved through the configured backends.

A :class:`SecretValue` prints, formats, logs and serialises as a mask; :meth:`SecretValue.reveal`
is the one way to the value, for the call that needs it (a client constructor, a request
header). dbt gets secrets through ``env_var()`` references (:mod:`floe.runtime.dbt_env`), never
through a file.
"""

from __future__ import annotations

import errno
import hmac
from pathlib import Path
from typing import Any, NoReturn

from floe.diagnostics import FloeError
from floe.runtime.scrub import MASK, remember
from floe.schema.types import SecretRef


class SecretValue:
    """A secret whose every printable form is masked; ``reveal()`` is the only way out.

    ``str``, ``repr``, ``format`` (so f-strings and ``%s``/``%r`` logging) show the mask;
    ``json.dumps`` refuses it (TypeError: not serialisable); pickling refuses it, so it can
    never be shipped to another process or written by a framework that pickles its state.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if not isinstance(value, str):
            raise TypeError("a SecretValue holds a string")
        object.__setattr__(self, "_value", value)
        remember(value)  # scrubbed from every message floe prints or records

    def reveal(self) -> str:
        """The value itself, for the one call that needs it (a client constructor)."""
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("a SecretValue is immutable")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        # Pickle is how values cross process boundaries (multiprocessing, Dagster's step
        # workers, caches on disk): a secret must be resolved again where it is needed instead.
        raise TypeError("a SecretValue cannot be pickled; resolve the secret in the process that "
                        "needs it (RunContext.secret)")

    def __reduce__(self) -> NoReturn:
        self.__reduce_ex__(None)

    def __copy__(self) -> "SecretValue":
        return self

    def __deepcopy__(self, memo: dict) -> "SecretValue":
        return self

    def __eq__(self, other: object) -> bool:
        # Constant time: comparing secrets must not tell an observer how many characters matched.
        return isinstance(other, SecretValue) and hmac.compare_digest(
            other._value.encode(), self._value.encode())

    def __hash__(self) -> int:
        return hash(("SecretValue", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def as_ref(item: Any) -> "SecretRef | None":
    """The reference a ``{secret_ref: name[, key: field]}`` mapping stands for, else None."""
    if isinstance(item, SecretRef):
        return item
    if isinstance(item, dict) and set(item) in ({"secret_ref"}, {"secret_ref", "key"}) \
            and isinstance(item["secret_ref"], str):
        return SecretRef(item["secret_ref"], item.get("key"))
    return None


#: A certificate chain or a JSON key file fits easily; anything larger is the wrong file.
MAX_SECRET_FILE_BYTES = 1024 * 1024


def read_secret_file(path: str | Path) -> SecretValue:
    """A secret held in a file (a Kubernetes or Docker secret mount), trailing newline dropped.

    :raises OSError: when the file cannot be read; the caller says what it was looking for.
    """
    from floe.filekinds import read_regular

    # A regular file only (a FIFO would block the run), of a secret's size.
    raw = read_regular(path, MAX_SECRET_FILE_BYTES + 1)
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise OSError(errno.EFBIG, f"is larger than {MAX_SECRET_FILE_BYTES // 1024} KiB, too large "
                      "for a secret value file")
    if b"\x00" in raw:
        # /proc/self/environ and other binary files: never take one for a secret's value.
        raise OSError(errno.EINVAL, "holds NUL bytes, so it is not a file holding one secret value")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OSError(errno.EINVAL, "is not UTF-8 text") from None
    # `echo value > file` adds a newline nobody meant as part of the secret.
    return SecretValue(text.rstrip("\r\n"))


def ref_label(ref: Any) -> str:
    """How messages name a reference: ``'polaris' (key 'client-secret')``."""
    key = getattr(ref, "key", None)
    return f"'{ref.secret_ref}'" + (f" (key '{key}')" if key else "")


class SecretNotFound(FloeError):
    """No secret backend holds a reference; the message lists every place tried."""


def missing_secret(ref: Any, tried: list[tuple[str, list[str]]]) -> SecretNotFound:
    """The error for a reference no backend could resolve: where it looked, never a value.

    :param tried: ``(backend type, [places it looked])`` in ``secrets.backends`` order.
    """
    if not tried:
        return SecretNotFound(f"secret {ref_label(ref)} cannot be resolved: platform.yaml lists no "
                         "secret backends; add some, e.g. secrets: {backends: [env, k8s]}")
    places = "; ".join(f"{backend}: {', '.join(where) or '(no places reported)'}"
                       for backend, where in tried)
    return SecretNotFound(f"secret {ref_label(ref)} was not found; tried {places}. Provide it in one "
                     "of those places (secrets.backends in platform.yaml sets where floe looks, "
                     "in that order)")
