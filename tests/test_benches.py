"""Every bench script runs, at a tiny size, so that a bench can never break unnoticed.

Each script in ``bench/`` runs as a real child process with the flags it already has, turned
down to the smallest size that still takes every code path (one timed run, a handful of models
and rows). The test checks that it exits 0 and prints the ratio lines its figures are read
from; the figures themselves are not judged here (speed is measured by running the benches at
their real size, never by timed tests).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

#: script -> (tiny-size arguments, lines it must print: each a regex matched per line)
TINY: dict[str, tuple[list[str], list[str]]] = {
    "validate_speed.py": (["--runs", "1", "--profiles", "3", "--repeat", "1"],
                          [r"ratio warm/baseline = \d+\.\d+", r"\d+\.\d+ ms/profile",
                           r"^summary: \(a\) \w+ +\(b\) \w+"]),
    "enforcement_speed.py": (["--models", "6", "--runs", "1"],
                             [r"^floe's part / dbt parse: +\d+\.\d+"]),
    "run_overhead.py": (["--models", "3", "--rows", "20", "--runs", "1"],
                        [r"^\(a\) plain dbt build +median", r"^    ratio \d+\.\d+ +goal <= ",
                         r"^    floor: .* = \d+\.\d+ s before floe does any work", r"ratio last/1st \d+\.\d+"]),
    "floor.py": (["--runs", "1", "--rows", "50"],
                 [r"^    total +\d+\.\d+ s", r"^    catalog.load_table +\d+\.\d+ ms",
                  r"throughput at best with pyiceberg's calls .*: \d+\.\d+"]),
    "observability_overhead.py": (["--models", "3", "--rows", "20", "--runs", "1", "--warmups", "0"],
                                  [r"^\(a\) on / off +\d+\.\d+", r"^\(b\) hanging - on +[+-]\d+\.\d+ s"]),
    "production_path.py": (["--runs", "1", "--warmups", "0"], [r"^ratio REST\+S3 / embedded \d+\.\d+"]),
}
#: Benches that need servers the suite starts once per session (a registry, PostgreSQL, Trino):
#: each runs at a tiny size in the test named here, beside the fixtures it shares.
ELSEWHERE = {
    "code_location.py": "tests/test_bench_code_location.py::test_the_code_location_bench_runs_at_a_tiny_size",
    "release_speed.py": "tests/test_bench_release.py::test_release_bench_runs_and_prints_both_ratios",
    "trino_overhead.py": "tests/test_trino_engine.py::test_the_trino_overhead_bench_runs_at_a_tiny_size",
}


def test_every_bench_script_has_a_tiny_size() -> None:
    scripts = sorted(path.name for path in BENCH.glob("*.py"))
    assert scripts == sorted([*TINY, *ELSEWHERE]), (
        "a bench script without a tiny-size entry in TINY (add its smallest flags and the ratio "
        "lines it prints) or a test in ELSEWHERE that runs it")
    for test in ELSEWHERE.values():
        module, name = test.split("::")
        assert f"def {name}(" in (ROOT / module).read_text(encoding="utf-8"), f"{test} is gone"


@pytest.mark.parametrize("script", sorted(TINY))
def test_bench_runs_at_a_tiny_size_and_prints_its_ratios(script: str, tmp_path: Path) -> None:
    args, expected = TINY[script]
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DAGSTER_DISABLE_TELEMETRY": "1",
           "TMPDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    lines = proc.stdout.splitlines()
    missing = [pattern for pattern in expected if not any(re.search(pattern, line) for line in lines)]
    assert not missing, f"{script} did not print {missing}:\n{proc.stdout}"
