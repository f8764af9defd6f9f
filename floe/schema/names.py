"""Names users write that floe turns into paths, Dagster names or Iceberg identifiers.

A transform's name becomes a folder under ``.floe/dbt/`` and a Dagster job; a Python asset's
name and layer become a Dagster asset and an Iceberg ``namespace.table``; a dbt model's name
becomes a table. Each is checked where it is written, so that nothing like ``../../x`` or
``/home/me/.dbt`` ever reaches a path, and a name with characters Dagster or a catalog refuses
fails at compile time with the allowed form, not minutes into a run.
"""

from __future__ import annotations

import re

#: Transform names: a folder name and (after ``-`` → ``_``) a Dagster job name.
TRANSFORM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
TRANSFORM_FORM = ("ASCII letters, digits, '.', '-' and '_', starting with a letter or digit, at most "
                  "63 characters, e.g. core or customer-orders")
#: Tables and namespaces: valid as Dagster asset names and as Iceberg identifiers everywhere.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
IDENTIFIER_FORM = ("ASCII letters, digits and '_', starting with a letter or '_', at most 128 "
                   "characters, e.g. top_countries")
#: dbt model names: what dbt itself accepts for a file name that becomes a table name.
MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}")
MODEL_FORM = ("ASCII letters, digits, '_' and '-' (the file name without .sql), e.g. "
              "stg_orders.sql")


def transform_name_problem(name: str) -> str | None:
    """What is wrong with a transform name, or None."""
    if TRANSFORM_NAME.fullmatch(name):
        return None
    return f"'{_shown(name)}' is not a valid transform name: use {TRANSFORM_FORM}"


def identifier_problem(name: object, what: str) -> str | None:
    """What is wrong with a table or namespace name (``what``: "asset name", "layer"), or None."""
    if isinstance(name, str) and IDENTIFIER.fullmatch(name):
        return None
    shown = _shown(name) if isinstance(name, str) else repr(name)
    return f"{what} '{shown}' is not valid: use {IDENTIFIER_FORM}"


def model_name_problem(name: str) -> str | None:
    """What is wrong with a dbt model's name, or None."""
    if MODEL_NAME.fullmatch(name):
        return None
    return f"model name '{_shown(name)}' cannot be an Iceberg table and Dagster asset name: use {MODEL_FORM}"


def _shown(name: str) -> str:
    # Control characters would garble the terminal; a very long name the whole line.
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name)
    return text if len(text) <= 80 else text[:77] + "..."
