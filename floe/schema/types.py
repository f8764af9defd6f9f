"""Small value types shared by the schemas and by plugins' settings classes."""

from __future__ import annotations

import re
from typing import Any

import attrs

from floe.schema.structure import Invalid, converter

_REF_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_KEY_NAME = re.compile(r"[A-Za-z0-9._-]{1,253}")


def check_ref_name(name: str, what: str = "secret_ref") -> None:
    """Refuse secret names that could escape a secrets directory or confuse a backend."""
    if not isinstance(name, str) or not name:
        raise Invalid(f"{what} must be a non-empty name")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise Invalid(f"{what} contains control characters; use a plain name such as 'polaris-oauth'")
    if "/" in name or "\\" in name or ".." in name:
        raise Invalid(f"{what} {name!r} looks like a path; a secret reference is a name such as "
                      "'polaris-oauth' (backends decide where it is stored)")
    if not _REF_NAME.fullmatch(name):
        raise Invalid(f"{what} {name!r} is not a valid name: use letters, digits, '.', '_' and '-', "
                      "starting with a letter or digit")


@attrs.frozen(order=True)
class SecretRef:
    """A reference to a secret by name, optionally to one key inside it.

    Written ``{secret_ref: polaris-oauth}`` or ``{secret_ref: polaris, key: client-secret}``.
    The value is looked up only at run time, by the configured secret backends.
    """

    secret_ref: str
    key: str | None = None

    @property
    def env_var_name(self) -> str:
        """The environment variable the ``env`` backend reads: ``polaris-oauth`` → ``POLARIS_OAUTH``."""
        base = re.sub(r"[^A-Za-z0-9]", "_", self.secret_ref).upper()
        if self.key:
            base += "_" + re.sub(r"[^A-Za-z0-9]", "_", self.key).upper()
        return base

    def __str__(self) -> str:
        return self.secret_ref + (f"#{self.key}" if self.key else "")


def jsonable(value: Any) -> Any:
    """Plain JSON values from attrs instances, mappings and lists; secret references become
    ``{secret_ref: name[, key: field]}`` mappings."""
    if isinstance(value, SecretRef):
        return {"secret_ref": value.secret_ref, **({"key": value.key} if value.key else {})}
    if attrs.has(type(value)):
        return jsonable(attrs.asdict(value, recurse=False))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _structure_secret_ref(value: Any, _: type) -> SecretRef:
    if not isinstance(value, dict):
        # Never echo the value: a literal here is very likely the secret itself.
        raise Invalid("a literal value is not allowed in a sensitive field; reference a secret "
                      "instead: {secret_ref: <name>} (the value is read at run time from the "
                      "secret backends)")
    unknown = sorted(set(value) - {"secret_ref", "key"}, key=str)
    if unknown or "secret_ref" not in value:
        raise Invalid("expected {secret_ref: <name>} or {secret_ref: <name>, key: <field>}"
                      + (f"; unknown key '{unknown[0]}'" if unknown else ""))
    name, key = value["secret_ref"], value.get("key")
    check_ref_name(name)
    if key is not None:
        # '.' and '..' would name the secret's own directory or its parent in a file backend.
        if not isinstance(key, str) or not _KEY_NAME.fullmatch(key) or key.strip(".") == "":
            raise Invalid("key must be a plain name such as 'client-secret'")
    return SecretRef(name, key)


def structure_str_or_ref(value: Any, _: type) -> "str | SecretRef":
    """Hook for fields typed ``str | SecretRef`` (for example an OAuth2 client id)."""
    if isinstance(value, dict):
        return _structure_secret_ref(value, SecretRef)
    if isinstance(value, str):
        return value
    raise Invalid("expected a string or {secret_ref: <name>}")


converter().register_structure_hook(SecretRef, _structure_secret_ref)
converter().register_structure_hook(str | SecretRef, structure_str_or_ref)
converter().register_structure_hook(SecretRef | str, structure_str_or_ref)


def parse_secret_ref(value: Any) -> SecretRef:
    """``{secret_ref: name}`` or ``{secret_ref: name, key: field}`` as a :class:`SecretRef`.

    For plugins that accept a reference inside free-form settings.

    :raises Invalid: with a message that never echoes ``value`` (it may be the secret itself).
    """
    return _structure_secret_ref(value, SecretRef)
