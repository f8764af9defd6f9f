"""bench/release_speed.py runs at a tiny size in the suite, so it cannot rot (its figures are
the bench's to report, not a test's to judge on a shared machine)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support.oci_registry import require_binary

ROOT = Path(__file__).resolve().parent.parent


def test_release_bench_runs_and_prints_both_ratios(tmp_path: Path) -> None:
    require_binary("docker-registry", "docker-registry")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "release_speed.py"), "--runs", "1"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^\(a\) compile, cached\+locked oci:// platform / local file: .* = \d+\.\d{3} \(goal <= 1\.05\) "
                     r"(PASS|MISS)$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^\(b\) cold pull, floe \(verified\) / bare oras: .* = \d+\.\d{3} \(goal <= 1\.2\) (PASS|MISS)$",
                     proc.stdout, re.M), proc.stdout
