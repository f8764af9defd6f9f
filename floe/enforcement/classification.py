"""Classifications from dbt column ``meta`` (``meta: {classification: pii}``).

The values are collected into the artifacts' governance section, where run time and lineage
read them. A value may be a string or a list of strings. When the platform lists the values it
recognises (``governance.classifications``), any other value is an error: a misspelt ``pii``
would otherwise leave personal data unmarked.
"""

from __future__ import annotations

from typing import Any

from floe.dbt_project import DbtModel
from floe.diagnostics import did_you_mean

#: The ``meta`` key floe reads.
META_KEY = "classification"


def values(meta: dict[str, Any]) -> list[str]:
    """The classification values in a ``meta`` mapping, in order, without duplicates."""
    raw = meta.get(META_KEY)
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    return list(dict.fromkeys(str(v) for v in items if isinstance(v, (str, int, float, bool))))


def classify(model: DbtModel, allowed: list[str] | None) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """``([(column, values)], problems)`` for one model's columns."""
    found, problems = [], []
    for column in model.columns:
        vals = values(column.meta)
        if not vals:
            continue
        found.append((column.name, vals))
        for value in vals:
            if allowed is not None and value not in allowed:
                problems.append(f"column '{column.name}' of '{model.name}' is classified '{value}', "
                                f"which is not one of the platform's classifications "
                                f"({', '.join(allowed) or 'none'}){did_you_mean(value, allowed)}")
    return found, problems
