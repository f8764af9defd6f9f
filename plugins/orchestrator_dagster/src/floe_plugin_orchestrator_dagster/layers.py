"""Which catalog namespace (layer) a table goes to."""

from __future__ import annotations

from typing import Sequence

#: Medallion layers recognised from a model's name prefix or folder.
MEDALLION = ("bronze", "silver", "gold")
#: Namespace for models that sit directly in models/ with no layer prefix.
DEFAULT_LAYER = "main"


def model_layer(name: str, fqn: Sequence[str]) -> str:
    """``gold_revenue`` → ``gold``; ``models/staging/stg_x.sql`` → ``staging``; else ``main``.

    ``fqn`` is dbt's fully qualified name: project, folders..., model name.
    """
    for layer in MEDALLION:
        if name.startswith(layer + "_"):
            return layer
    folders = list(fqn[1:-1])
    return folders[0] if folders else DEFAULT_LAYER
