"""CPU per event and S3 put → DynamoDB item latency of our LocalStack, settings A vs B alternating.

``.venv/bin/python bench/cpu_per_event.py --variant base= --variant lean=LSH_X=1,LSH_Y=0
[--rounds 3] [--burst 300] [--chain 30] [--profile DIR]``

Each round starts one fresh embedded LocalStack per variant, in the order given (A, B, A, B,
...), with the variant's settings on top of the harness's defaults, and runs
``bench/peers.py``'s workload on it: the S3 → SNS → SQS → Lambda → DynamoDB chain built with API
calls, ``--chain`` puts one at a time (p50 latency from put to the item's write, the handler's
clock), then ``--burst`` puts at once (16 threads): CPU seconds of LocalStack's whole process
tree (function processes included) per item written, LocalStack's own process alone, items/s
and items lost. ``--profile DIR`` also records LocalStack's main process with py-spy during each
burst (``--gil``, raw format, one file per variant and round). Writes
``bench/results/cpu_per_event.json``.

Wrap it in ``flock /tmp/bench.lock`` on a shared machine: two benchmarks at once on 2 cores
measure each other.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import percentile, write_result  # noqa: E402
from peers import Chain, tree_cpu_seconds  # noqa: E402

from harness.localstack import EmbeddedBackend  # noqa: E402


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (all its threads), without its children."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``name=K1=v1,K2=v2`` (or ``name=`` for the defaults) → (name, settings)."""
    name, _, rest = text.partition("=")
    settings = {}
    for pair in filter(None, rest.split(",")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--variant {text!r}: {pair!r} is not KEY=VALUE; "
                             "write --variant name=KEY=VALUE,KEY2=VALUE2")
        settings[key.strip()] = value
    return name, settings


def run_one(settings: dict[str, str], args: argparse.Namespace, profile_to: Path | None) -> dict:
    backend = EmbeddedBackend(settings=settings, progress=lambda _line: None)
    ls = backend.start()
    pid = backend.process.pid
    result: dict = {}
    try:
        chain = Chain(ls)
        lat = chain.latencies(args.chain)
        result["s3_to_item_p50_ms"] = round(percentile(lat, 50) * 1000, 1)
        result["s3_to_item_p90_ms"] = round(percentile(lat, 90) * 1000, 1)
        spy = None
        if profile_to:
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--format", "raw",
                                    "--rate", "200", "--nonblocking", "--gil",
                                    "--output", str(profile_to)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)  # py-spy attaches
        marks: list[tuple[float, float]] = []  # (tree, LocalStack alone) at start and end

        def tree_cpu() -> float:
            marks.append((tree_cpu_seconds(pid), process_cpu_seconds(pid)))
            return marks[-1][0]

        burst = chain.burst(args.burst, tree_cpu)
        main_cpu = marks[-1][1] - marks[0][1]
        if spy:
            spy.send_signal(2)
            spy.wait(30)
        burst["localstack_cpu_ms_per_event"] = round(main_cpu * 1000 / max(burst["items"], 1), 2)
        burst["cpu_ms_per_event_exact"] = round(
            (marks[-1][0] - marks[0][0]) * 1000 / max(burst["items"], 1), 2)
        result["burst"] = burst
    except Exception as e:  # keep what was measured, say what failed
        result["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
    finally:
        backend.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", required=True,
                        help="name=KEY=VALUE,... (LocalStack or LSH_ settings); repeat, ≥ 1")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chain", type=int, default=30, help="S3 puts one at a time")
    parser.add_argument("--burst", type=int, default=300, help="S3 puts at once")
    parser.add_argument("--profile", type=Path, help="folder for py-spy raw profiles")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variant]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {name: [] for name, _ in variants}
    for i in range(args.rounds):
        for name, settings in variants:
            out = args.profile / f"{name}-{i + 1}.txt" if args.profile else None
            runs[name].append(run_one(settings, args, out))
            print(f"round {i + 1} {name}: {json.dumps(runs[name][-1])} "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)

    def med(name: str, read) -> float | None:
        values = []
        for r in runs[name]:
            try:
                values.append(read(r))
            except (KeyError, TypeError):
                pass
        return round(statistics.median(values), 2) if values else None

    summary = {name: {
        "cpu_ms_per_event": med(name, lambda r: r["burst"]["cpu_ms_per_event_exact"]),
        "localstack_cpu_ms_per_event": med(
            name, lambda r: r["burst"]["localstack_cpu_ms_per_event"]),
        "items_per_s": med(name, lambda r: r["burst"]["items_per_s"]),
        "lost": med(name, lambda r: r["burst"]["lost"]),
        "s3_to_item_p50_ms": med(name, lambda r: r["s3_to_item_p50_ms"]),
    } for name, _ in variants}
    write_result("cpu_per_event", {
        "command": "bench/cpu_per_event.py " + " ".join(sys.argv[1:]),
        "variants": dict(variants), "rounds": args.rounds, "workload": {
            "chain": args.chain, "burst": args.burst},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "summary": summary, "runs": runs})
    print("| variant | CPU ms/event (all) | LocalStack process ms/event | items/s | lost | "
          "S3 → item p50 ms |")
    for name, s in summary.items():
        print(f"| {name} | {s['cpu_ms_per_event']} | {s['localstack_cpu_ms_per_event']} | "
              f"{s['items_per_s']} | {s['lost']} | {s['s3_to_item_p50_ms']} |")


if __name__ == "__main__":
    main()
