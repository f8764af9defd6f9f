"""What built-in observability costs a `floe run`, and what a broken endpoint adds.

Run: ``python bench/observability_overhead.py [--models 50] [--rows 100000] [--runs 3] [--warmups 1]``

Generates the bench project of ``run_overhead.py`` and times ``floe run`` (a child process, as
a user runs it) with the platform's observability switched three ways, interleaved so machine
load hits every variant alike, medians of ``--runs`` after one warm-up each:

- **off**: ``traces: false, lineage: false`` — the baseline;
- **on**: traces to an OTLP/HTTP collector and lineage to an OpenLineage (Marquez) endpoint, both
  a loopback HTTP server in this process that records what it receives;
- **hanging**: both endpoints accept connections and never answer.

It prints (a) on ÷ off (goal ≤ 1.05) and (b) hanging − on, the time a hanging endpoint adds
(goal ≤ 2 s), and checks that the collector really received spans and events.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_overhead import Collector, generate, timed  # noqa: E402 - the bench project, timer and receiver, shared


def hanging_endpoint() -> tuple[str, socket.socket]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", sock


def set_observability(product: Path, section: str) -> None:
    platform = product / "platform" / "local" / "platform.yaml"
    text = re.sub(r"observability:\n(  .*\n)+", "", platform.read_text())
    platform.write_text(text + section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmups", type=int, default=1,
                        help="untimed rounds first, warming the OS cache and dbt's parse cache (default 1)")
    options = parser.parse_args()
    collector = Collector()
    hanging_url, hanging_socket = hanging_endpoint()
    variants = {
        "off": "observability:\n  traces: false\n  lineage: false\n",
        "on": (f"observability:\n  traces: true\n  lineage: true\n  otlp_endpoint: {collector.url}\n"
               f"  lineage_endpoint: {collector.url}\n"),
        "hanging": (f"observability:\n  traces: true\n  lineage: true\n  otlp_endpoint: {hanging_url}\n"
                    f"  lineage_endpoint: {hanging_url}\n"),
    }
    floe = [sys.executable, "-m", "floe", "run"]
    with tempfile.TemporaryDirectory(prefix="floe-bench-obs-") as tmp:
        product = Path(tmp) / "bench"
        generate(product, options.models, options.rows)
        print(f"project: {options.models} models over {options.rows:,}-row inputs, "
              f"{options.runs} runs per variant after {options.warmups} warm-up(s) each, interleaved")
        times: dict[str, list[float]] = {name: [] for name in variants}
        for round_ in range(options.warmups + options.runs):
            for name, section in variants.items():
                set_observability(product, section)
                seconds = timed(floe, product)
                if round_ >= options.warmups:
                    times[name].append(seconds)
        hanging_socket.close()
    median = {name: statistics.median(values) for name, values in times.items()}
    for name in variants:
        print(f"    floe run, observability {name:<8} median {median[name]:6.2f} s   "
              f"({', '.join(f'{v:.2f}' for v in times[name])})")
    ratio = median["on"] / median["off"]
    added = median["hanging"] - median["on"]
    print(f"(a) on / off            {ratio:.3f}   goal <= 1.05   {'PASS' if ratio <= 1.05 else 'MISS'}")
    print(f"(b) hanging - on        {added:+.2f} s   goal <= 2 s    {'PASS' if added <= 2 else 'MISS'}")
    spans = collector.received.get("/v1/traces", 0)
    events = collector.received.get("/api/v1/lineage", 0)
    print(f"    the collector received {spans} OTLP span batches and {events} OpenLineage events "
          f"over {options.warmups + options.runs} 'on' runs")


if __name__ == "__main__":
    main()
