"""What does a platform release cost a data engineer, next to a file and next to bare oras?

Run from anywhere:  python bench/release_speed.py [--runs N]

A product is created by ``floe init`` in a temporary directory; its platform is published by
``floe platform publish`` to a real registry (Debian's ``docker-registry``, started here on
127.0.0.1 with storage in the temporary directory). Then, in this one process:

(a) **compile ratio** = median wall time of the in-process ``compile_product`` (not written)
    with ``platform.ref`` naming the release, locked and cached ÷ the same with the same
    platform as a local file. dbt's parse is cached beforehand, so the figure is floe's own
    work plus reading the platform. Goal: <= 1.05.
(b) **cold pull ratio** = median wall time of floe's pull of the release into an empty cache
    (tag resolved at the registry, every manifest and blob verified, written atomically) ÷
    median wall time of ``oras.client.OrasClient().pull`` of the same tag into an empty folder
    (which verifies nothing). Goal: <= 1.2.

Runs are interleaved (A B, then B A) so drift on a shared machine hits both sides alike. Every figure is
printed with its goal and PASS/MISS; the exit code is 0 either way (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

COMPILE_GOAL = 1.05
PULL_GOAL = 1.2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="runs of each side (default 30)")
    args = parser.parse_args()
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")

    from support.oci_registry import start_registry, stop

    work = Path(tempfile.mkdtemp(prefix="floe-release-bench-"))
    os.environ["FLOE_CACHE_DIR"] = str(work / "cache")
    os.environ["DOCKER_CONFIG"] = str(work)
    registry, proc = start_registry(work / "registry")
    os.environ["FLOE_INSECURE_REGISTRIES"] = registry.host
    try:
        return _measure(work, registry, args.runs)
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)


def _measure(work: Path, registry, runs: int) -> int:
    import oras.client

    from floe.compiler import compile_product
    from floe.init import scaffold
    from floe.releases.cache import Cache
    from floe.releases.publish import publish
    from floe.releases.pull import RegistryOptions, pull

    file_product = work / "file-product"
    scaffold(file_product)
    repo = registry.url("bench/platform")
    published = publish(file_product / "platform" / "local" / "platform.yaml", "v1.0.0", repo,
                        RegistryOptions(insecure=True))
    oci_product = work / "oci-product"
    shutil.copytree(file_product, oci_product, ignore=shutil.ignore_patterns("platform"))
    text = (oci_product / "floe.yaml").read_text()
    (oci_product / "floe.yaml").write_text(text.replace("profiles:\n", f"platform: {{ref: '{repo}:v1.0.0'}}\nprofiles:\n"))
    for product in (file_product, oci_product):  # dbt parse, the pull and the lock happen here
        compile_product(product / "floe.yaml", write=False)

    file_times, oci_times = [], []
    sides = [(file_product, file_times), (oci_product, oci_times)]
    for index in range(runs):
        # A, B then B, A: drift on a shared machine lands on both sides alike.
        for product, samples in (sides if index % 2 == 0 else sides[::-1]):
            start = time.perf_counter()
            compile_product(product / "floe.yaml", write=False)
            samples.append(time.perf_counter() - start)
    compile_ratio = statistics.median(oci_times) / statistics.median(file_times)

    target = f"{registry.host}/bench/platform:v1.0.0"
    oras_client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    oras_client.pull(target=target, outdir=str(work / "oras-warmup"))  # imports and connections warm
    floe_times, oras_times = [], []
    for index in range(runs):
        cache = Cache(work / f"cold-{index}")
        start = time.perf_counter()
        release = pull(f"{repo}:v1.0.0", None, cache=cache, options=RegistryOptions(insecure=True))
        floe_times.append(time.perf_counter() - start)
        assert release.digest == published.digest
        outdir = work / f"oras-{index}"
        start = time.perf_counter()
        oras_client.pull(target=target, outdir=str(outdir))
        oras_times.append(time.perf_counter() - start)
    pull_ratio = statistics.median(floe_times) / statistics.median(oras_times)

    layers = len(release.files)
    print(f"platform release: {layers} files, {sum(map(len, release.files.values()))} bytes, {published.digest}")
    print(f"(a) compile, cached+locked oci:// platform / local file: {statistics.median(oci_times) * 1000:.1f} ms / "
          f"{statistics.median(file_times) * 1000:.1f} ms = {compile_ratio:.3f} (goal <= {COMPILE_GOAL}) "
          f"{'PASS' if compile_ratio <= COMPILE_GOAL else 'MISS'}")
    print(f"(b) cold pull, floe (verified) / bare oras: {statistics.median(floe_times) * 1000:.1f} ms / "
          f"{statistics.median(oras_times) * 1000:.1f} ms = {pull_ratio:.3f} (goal <= {PULL_GOAL}) "
          f"{'PASS' if pull_ratio <= PULL_GOAL else 'MISS'}")
    print(f"runs: {runs} each, interleaved, medians")
    return 0


if __name__ == "__main__":
    sys.exit(main())
