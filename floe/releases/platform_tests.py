"""``floe platform test``: the platform's own policy tests.

A platform carries test cases in ``tests/`` beside its platform.yaml: one folder per case,
each a small example product (``floe.yaml`` and its dbt project) plus ``expect.yaml`` saying
the outcome it must have::

    expect: fails            # or: compiles
    rule: naming             # optional: a rule that must fail (naming, quality.test_coverage, ...)
    message: "gold_"         # optional: text some error must contain

Each case is compiled against the platform (nothing is written but dbt's parse cache in the
case's ``.floe/``) and reported like a test runner. ``floe platform publish`` refuses a
platform whose tests fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs

from floe.diagnostics import FloeError

CASES_DIR = "tests"
EXPECT_FILE = "expect.yaml"


@attrs.frozen
class Expectation:
    """What a case must do: compile, or fail (by a rule, with a message)."""

    expect: Literal["compiles", "fails"]
    rule: str | None = None
    message: str | None = None


@attrs.frozen
class CaseResult:
    """One case: its name, whether it passed, and why not."""

    name: str
    passed: bool
    expected: str
    detail: str = ""


def cases_dir(platform_path: Path) -> Path:
    """Where a platform's test cases live: ``tests/`` beside its file."""
    return platform_path.parent / CASES_DIR


def run_platform_tests(platform_path: Path, directory: Path | None = None) -> list[CaseResult]:
    """Compile every case against the platform; :class:`FloeError` when there are no cases or
    an ``expect.yaml`` is invalid (every such file is reported at once)."""
    from floe.discovery import display_path

    folder = directory or cases_dir(platform_path)
    cases = sorted(p.parent for p in folder.glob(f"*/{EXPECT_FILE}")) if folder.is_dir() else []
    if not cases:
        raise FloeError(f"{display_path(folder)}: no platform test cases (each case is a folder with a "
                        f"floe.yaml and an {EXPECT_FILE}: expect: compiles | fails)")
    expectations, problems = {}, []
    for case in cases:
        expectation, items = _expectation(case / EXPECT_FILE)
        problems += items
        expectations[case] = expectation
    if problems:
        raise FloeError(problems)
    return [_run(case, expectations[case], platform_path) for case in cases]


def _expectation(path: Path):
    from floe.discovery import display_path
    from floe.schema.structure import structure
    from floe.yamlsafe import load_file

    doc = load_file(path, display_path(path))
    report = doc.report()
    expectation = structure(doc.data, Expectation, report)
    if expectation is not None and expectation.expect == "compiles" and (expectation.rule or expectation.message):
        report.error(("expect",), "rule and message go with expect: fails")
        expectation = None
    return expectation, report.items


def _run(case: Path, expectation: Expectation, platform_path: Path) -> CaseResult:
    from floe.compiler import compile_product

    wanted = expectation.expect + (f" by rule {expectation.rule}" if expectation.rule else "") + (
        f" with '{expectation.message}'" if expectation.message else "")
    if not (case / "floe.yaml").is_file():
        return CaseResult(case.name, False, wanted, "no floe.yaml in the case folder")
    try:
        compile_product(case / "floe.yaml", platform=str(platform_path.resolve()), write=False)
    except FloeError as exc:
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        failed_rules = sorted({r.rule for r in getattr(exc, "enforcement", []) if r.status == "fail"})
        if expectation.expect == "compiles":
            return CaseResult(case.name, False, wanted, "it failed: " + (errors[0].message if errors else "?"))
        if expectation.rule and not any(r == expectation.rule or r.startswith(expectation.rule + ".")
                                        for r in failed_rules):
            return CaseResult(case.name, False, wanted, f"rule {expectation.rule} did not fail (failed: "
                              f"{', '.join(failed_rules) or 'no rule'}; {errors[0].message if errors else ''})")
        if expectation.message and not any(expectation.message in d.message for d in errors):
            return CaseResult(case.name, False, wanted, f"no error contains '{expectation.message}' (errors: "
                              + "; ".join(d.message for d in errors[:3]) + ")")
        return CaseResult(case.name, True, wanted)
    if expectation.expect == "fails":
        return CaseResult(case.name, False, wanted, "it compiled")
    return CaseResult(case.name, True, wanted)
