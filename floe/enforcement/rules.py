"""The enforcement rules applied to a product's models: :func:`enforce` and
:func:`check_approved` (see :mod:`floe.enforcement`)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Iterable

import attrs

from floe.artifacts import Classification, DbtModelInfo, EnforcementResult, QualityReport
from floe.dbt_project import DbtModel, DbtProjectModels
from floe.diagnostics import one_of
from floe.enforcement import classification, quality
from floe.enforcement.inheritance import Policy
from floe.enforcement.naming import Layering

__all__ = ["Outcome", "ProjectModels", "check_approved", "enforce"]

PASS, WARN, FAIL = "pass", "warn", "fail"


@attrs.frozen
class ProjectModels:
    """The parsed models of one dbt project of the product."""

    transform: str
    #: Relative to the product directory: ``dbt``.
    project_dir: str
    project: DbtProjectModels


@attrs.frozen
class Outcome:
    """What enforcement found.

    ``summary`` has one result per rule applied (for progress output and the artifacts),
    ``results`` one per violation, in file order.
    """

    summary: list[EnforcementResult]
    results: list[EnforcementResult]
    models: dict[str, list[DbtModelInfo]]
    quality: QualityReport
    classifications: list[Classification]

    @property
    def failed(self) -> bool:
        """Whether any violation stops compile."""
        return any(r.status == FAIL for r in self.results)


def enforce(policy: Policy, projects: Iterable[ProjectModels],
            collect_classifications: bool = True) -> Outcome:
    """Apply the policy to every model of every project."""
    projects = list(projects)
    layering = Layering(policy)
    arch, gates = policy.data_architecture, policy.governance.quality_gates
    naming_status = {"warn": WARN, "strict": FAIL}.get(arch.naming.enforcement)
    gate_status = FAIL if gates.block_on_failure else WARN
    allowed = policy.governance.classifications
    results: list[EnforcementResult] = []
    placed: list[tuple[DbtModel, str | None]] = []
    infos: dict[str, list[DbtModelInfo]] = {}
    found: list[Classification] = []
    naming_bad: set[str] = set()
    undocumented = {"quality.descriptions": 0, "quality.column_descriptions": 0}
    for project in projects:
        rows = infos.setdefault(project.project_dir, [])
        for model in project.project.models:
            file = (PurePosixPath(project.project_dir) / model.original_file_path).as_posix()
            placement = layering.place(model)
            placed.append((model, placement.layer))
            rows.append(DbtModelInfo(model.unique_id, model.name, model.original_file_path,
                                     model.alias, model.materialized, placement.layer))
            if naming_status:
                for problem in placement.problems:
                    naming_bad.add(file)
                    results.append(EnforcementResult("naming", naming_status, model.name, problem, file))
            for rule, message in quality.missing_descriptions(model, gates):
                undocumented[rule] += 1
                results.append(EnforcementResult(rule, gate_status, model.name, message, file))
            if collect_classifications:
                columns, problems = classification.classify(model, allowed)
                found += [Classification(model.name, column, vals, file) for column, vals in columns]
                results += [EnforcementResult("classification", FAIL, model.name, p, file) for p in problems]
    report, coverage_problems = quality.coverage(placed, gates)
    report = attrs.evolve(report, undocumented_models=undocumented["quality.descriptions"],
                          undocumented_columns=undocumented["quality.column_descriptions"])
    project_file = (f"{projects[0].project_dir}/dbt_project.yml" if len(projects) == 1 else None)
    for layer, message in coverage_problems:
        rule = "quality.test_coverage" if layer is None else f"quality.test_coverage.{layer}"
        results.append(EnforcementResult(rule, gate_status, "product", message, project_file))
    # Model by model in file order, like a compiler; the product-wide gates after them.
    results.sort(key=lambda r: (r.subject == "product", r.file or "", r.rule, r.message))
    summary = _summary(policy, layering, len(placed), naming_bad, naming_status, report,
                       coverage_problems, undocumented, gate_status)
    return Outcome(summary, results, infos, report, found)


def _summary(policy: Policy, layering: Layering, total: int, naming_bad: set[str],
             naming_status: str | None, report: QualityReport, coverage_problems: list,
             undocumented: dict[str, int], gate_status: str) -> list[EnforcementResult]:
    gates = policy.governance.quality_gates
    out = []
    enforcement = policy.data_architecture.naming.enforcement
    if layering.active and naming_status:
        bad = len(naming_bad)
        text = (f"all {total} models follow {layering.pattern} naming" if not bad else
                f"{bad} of {total} models violate {layering.pattern} naming ({enforcement})")
        out.append(EnforcementResult("naming", naming_status if bad else PASS, "models", text))
    if gates.minimum_test_coverage is not None or gates.minimum_test_coverage_by_layer:
        text = (f"test coverage {quality.shown(report.test_coverage)} ({report.tested} of "
                f"{report.models} models have a test)")
        if gates.minimum_test_coverage is not None:
            text += f", minimum {gates.minimum_test_coverage}%"
        for layer, floor in sorted(gates.minimum_test_coverage_by_layer.items()):
            layer_report = report.by_layer.get(layer)
            text += f"; {layer} {quality.shown(layer_report.percent if layer_report else 100.0)} (minimum {floor}%)"
        out.append(EnforcementResult("quality.test_coverage", gate_status if coverage_problems else PASS,
                                     "models", text))
    for rule, flag, what in (("quality.descriptions", gates.require_descriptions, "models"),
                             ("quality.column_descriptions", gates.require_column_descriptions,
                              "documented columns")):
        if flag:
            missing = undocumented[rule]
            text = f"all {what} have a description" if not missing else f"{missing} {what} lack a description"
            out.append(EnforcementResult(rule, gate_status if missing else PASS, "models", text))
    return out


def check_approved(approved: dict[str, list[str]], selected: Iterable[tuple[str, str, str]]
                   ) -> list[EnforcementResult]:
    """One result per selected ``(kind, profile, type)`` whose kind the platform restricts."""
    out = []
    for kind, profile, type_ in selected:
        allowed = approved.get(kind)
        if allowed is None:
            continue
        subject = f"{kind} profile '{profile}' ({type_})"
        if type_ in allowed:
            out.append(EnforcementResult("approved_plugins", PASS, subject, f"'{type_}' is approved"))
        else:
            out.append(EnforcementResult(
                "approved_plugins", FAIL, subject,
                f"{subject} uses a plugin type the platform has not approved; approved {kind} "
                f"types: {one_of(allowed)}"))
    return out
