"""platform.yaml's ``observability.lineage_transport``: an openlineage-python transport config.

Checked at compile time without importing openlineage-python: the transport ``type`` (each
member of a ``composite`` too) must be one the client registers, and credentials inside it
(``auth.apiKey``, a Kafka ``sasl.password``...) must be secret references, resolved at run time.
"""

from __future__ import annotations

from typing import Any

from floe.diagnostics import did_you_mean, dotted, one_of
from floe.schema.structure import Invalid

#: Transport types openlineage-python 1.x registers (the ``type:`` of a transport config).
TRANSPORT_TYPES = ("amazon_datazone", "async_http", "composite", "console", "datadog", "file",
                   "gcplineage", "http", "kafka", "msk_iam", "noop", "transform")
#: Keys (lower case, without ``_``, ``-`` and ``.``) whose values are credentials.
_SECRET_KEYS = {"apikey", "password", "token", "secret", "clientsecret", "saslpassword", "accesstoken",
                "privatekey"}


def check_lineage_transport(value: Any) -> None:
    """Raise :class:`Invalid` for the first problem in a transport config (located inside it)."""
    if value is None:
        return
    problem = _problem(value, ())
    if problem:
        where, message = problem
        raise Invalid(f"{dotted(where) + ': ' if where else ''}{message}")


def _problem(value: Any, path: tuple) -> tuple[tuple, str] | None:
    if not isinstance(value, dict):
        return path, "expected a transport mapping such as {type: http, url: http://marquez:5000}"
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in TRANSPORT_TYPES:
        shown = f"'{kind}'" if isinstance(kind, str) else "a transport without a type"
        return path + ("type",), (f"{shown} is not an OpenLineage transport type"
                                  f"{did_you_mean(str(kind), TRANSPORT_TYPES)}; use one of "
                                  f"{one_of(TRANSPORT_TYPES)}")
    if kind == "composite":
        members = value.get("transports")
        items = (list(members.items()) if isinstance(members, dict)
                 else list(enumerate(members)) if isinstance(members, list) else None)
        if not items:
            return path + ("transports",), "a composite transport lists its transports (a list or a mapping)"
        for key, member in items:
            problem = _problem(member, path + ("transports", key))
            if problem:
                return problem
    return _literal_secret(value, path)


def _literal_secret(value: Any, path: tuple) -> tuple[tuple, str] | None:
    if isinstance(value, dict):
        if "secret_ref" in value:
            return None
        for key, item in value.items():
            normal = str(key).lower().replace("_", "").replace("-", "").replace(".", "")
            if normal in _SECRET_KEYS and item not in (None, "") and not (
                    isinstance(item, dict) and "secret_ref" in item):
                return path + (key,), ("a literal value is not allowed in a sensitive field; reference "
                                       "a secret instead: {secret_ref: <name>}")
            if key != "transports":
                problem = _literal_secret(item, path + (key,))
                if problem:
                    return problem
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problem = _literal_secret(item, path + (i,))
            if problem:
                return problem
    return None
