"""`floe run` against a REST catalog + S3 ÷ `floe run` on the embedded default.

Run: ``python bench/production_path.py [--runs 3] [--warmups 1]``

Scaffolds the demo product once and runs it, interleaved, against ``platform/local`` (SQLite
catalog, local warehouse) and against a platform pointing at the loopback stack the tests use:
moto's S3 server and the Iceberg REST catalog that stands in for Polaris (tests/support), both on
127.0.0.1. Prints the medians and the ratio (the cost of the production-shaped path: OAuth2,
REST round trips, S3 writes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmups", type=int, default=1,
                        help="untimed runs of each first: first parse, first tables (default 1)")
    options = parser.parse_args()

    from support.stack import loopback_stack
    from test_production_path import PLATFORM, SCOPE

    from floe.init import scaffold

    with tempfile.TemporaryDirectory(prefix="floe-bench-prod-") as tmp, \
            loopback_stack(Path(tmp), "bench-oauth", (SCOPE,)) as stack:
        product = Path(tmp) / "shop"
        scaffold(product, name="shop")
        (product / "platform" / "prod").mkdir()
        (product / "platform" / "prod" / "platform.yaml").write_text(
            PLATFORM.format(s3=stack["endpoint"], uri=stack["server"].url, warehouse="prod", scope=SCOPE))
        keys = stack["keys"]
        env = {**os.environ, "POLARIS_OAUTH": "bench-oauth", "S3_KEYS_ACCESS_KEY_ID": keys["aws_access_key_id"],
               "S3_KEYS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"], "AWS_EC2_METADATA_DISABLED": "true",
               "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}

        def timed(target: str) -> float:
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "floe", "run", "--env", target], cwd=product,
                                    env=env, capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"floe run --env {target} failed:\n{result.stderr[-3000:]}")
            return time.perf_counter() - start

        for _ in range(options.warmups):
            timed("local")
            timed("prod")
        local, prod = [], []
        for _ in range(options.runs):
            local.append(timed("local"))
            prod.append(timed("prod"))
    local_s, prod_s = statistics.median(local), statistics.median(prod)
    print(f"demo product, {options.runs} runs each after {options.warmups} warm-up(s)")
    print(f"floe run, embedded default (SQLite catalog, local files)  median {local_s:6.2f} s")
    print(f"floe run, Iceberg REST + OAuth2 + S3 on loopback          median {prod_s:6.2f} s")
    print(f"ratio REST+S3 / embedded {prod_s / local_s:.2f}")


if __name__ == "__main__":
    main()
