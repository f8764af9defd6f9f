"""Where the Helm charts floe ships live."""

from __future__ import annotations

import os
from pathlib import Path

from floe.diagnostics import FloeError

#: The charts travel inside the floe package (``floe/deploy/charts`` is the repository's
#: ``charts/``), so an installed floe deploys the charts of its own version.
BUNDLED = Path(__file__).resolve().parent / "charts"
PLATFORM_CHART = "floe-platform"
PRODUCT_CHART = "floe-product"


def chart_dir(name: str) -> Path:
    """The directory of chart ``name``: ``$FLOE_CHARTS_DIR/<name>`` if set, else floe's own."""
    base = Path(os.environ["FLOE_CHARTS_DIR"]) if os.environ.get("FLOE_CHARTS_DIR") else BUNDLED
    path = base / name
    if not (path / "Chart.yaml").is_file():
        raise FloeError(f"{path}: no Helm chart {name} here; set FLOE_CHARTS_DIR to the folder "
                        "holding floe-platform/ and floe-product/, or reinstall floe")
    return path
