"""bench/code_location.py runs at a tiny size, so it cannot rot (figures: run it at full size)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "code_location.py"


def test_the_code_location_bench_runs_at_a_tiny_size():
    proc = subprocess.run([sys.executable, str(BENCH), "--models", "3", "--runs", "1"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("ratio floe / dagster-dbt = ") for line in lines), proc.stdout
    assert any(line.startswith("absolute floe load = ") for line in lines), proc.stdout
