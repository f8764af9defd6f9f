"""Quality gates: test coverage (overall and per layer) and required descriptions.

Coverage is the share of models with at least one data test — a generic test attached to the
model or one of its columns, or a singular test (``tests/*.sql``) that refs it. Unit tests do
not count: they check a model's logic on fixed rows, not the data it produces.
"""

from __future__ import annotations

from typing import Iterable

from floe.artifacts import LayerCoverage, QualityReport
from floe.dbt_project import DbtModel
from floe.schema.platform import QualityGates

#: How many untested model names a coverage message lists before "and N more".
LISTED = 10


def percent(part: int, whole: int) -> float:
    """``part`` of ``whole`` in percent, one decimal; 100 for an empty whole (nothing to test)."""
    return round(100.0 * part / whole, 1) if whole else 100.0


def shown(value: float) -> str:
    """``50%``, ``66.7%``."""
    return f"{value:g}%"


def coverage(models: list[tuple[DbtModel, str | None]], gates: QualityGates
             ) -> tuple[QualityReport, list[tuple[str | None, str]]]:
    """Measure coverage; return the report and one ``(layer, message)`` per missed minimum."""
    tested = [m for m, _ in models if m.tests]
    report_layers: dict[str, LayerCoverage] = {}
    problems: list[tuple[str | None, str]] = []
    total = percent(len(tested), len(models))
    minimum = gates.minimum_test_coverage
    if minimum is not None and total < minimum:
        problems.append((None, f"test coverage is {shown(total)} ({len(tested)} of {len(models)} models "
                               f"have a test), below the minimum of {minimum}%; "
                               f"{_untested(m for m, _ in models)}"))
    layers = sorted({layer for _, layer in models if layer is not None}
                    | set(gates.minimum_test_coverage_by_layer))
    for layer in layers:
        in_layer = [m for m, placed in models if placed == layer]
        covered = sum(1 for m in in_layer if m.tests)
        value = percent(covered, len(in_layer))
        floor = gates.minimum_test_coverage_by_layer.get(layer)
        report_layers[layer] = LayerCoverage(len(in_layer), covered, value, floor)
        if floor is not None and value < floor:
            problems.append((layer, f"test coverage of layer {layer} is {shown(value)} ({covered} of "
                                    f"{len(in_layer)} models have a test), below its minimum of "
                                    f"{floor}%; {_untested(in_layer)}"))
    report = QualityReport(models=len(models), tested=len(tested), test_coverage=total,
                           minimum_test_coverage=minimum, by_layer=report_layers)
    return report, problems


def _untested(models: Iterable[DbtModel]) -> str:
    names = sorted(m.name for m in models if not m.tests)
    more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
    return "add a test to " + ", ".join(names[:LISTED]) + more


def missing_descriptions(model: DbtModel, gates: QualityGates) -> list[tuple[str, str]]:
    """``(rule, message)`` for a model without a description and, when required, its columns."""
    out = []
    if gates.require_descriptions and not model.description.strip():
        out.append(("quality.descriptions", f"'{model.name}' has no description; describe it in a "
                                            "models: entry of a .yml file"))
    if gates.require_column_descriptions:
        for column in model.columns:
            if not column.description.strip():
                out.append(("quality.column_descriptions", f"column '{column.name}' of '{model.name}' "
                                                           "has no description"))
    return out
