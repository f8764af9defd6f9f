"""Secret values at run time: held masked, resolved through the configured backends."""

from __future__ import annotations

from typing import Any

from floe.diagnostics import FloeError

MASK = "**********"


class SecretValue:
    """A secret whose every printable form is masked; ``reveal()`` is the only way out."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the one call that needs it (a client constructor)."""
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue({MASK})"

    __str__ = __format__ = lambda self, *args: MASK  # noqa: E731 - same mask for every form

    def __reduce__(self) -> Any:
        raise TypeError("secret values cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("SecretValue", self._value))


def missing_secret(ref: Any, tried: list[str]) -> FloeError:
    """The error for a reference no backend could resolve: what was tried, never a value."""
    return FloeError(f"secret '{ref}' was not found; tried: {'; '.join(tried) or 'no backends'}. "
                     "Provide it in one of those places (see secrets.backends in platform.yaml)")
