"""Benchmark virtual Step Functions time: the order saga's branch suite with the time scale vs
in real time (the seed's backoff: 2 s × 2.0, 3 retries).

Run with ``make bench`` (or ``.venv/bin/python bench/saga.py [--rounds N]``); writes
``bench/results/saga.json``.

One embedded LocalStack for all runs. ``tests/e2e/order_saga/test_saga.py`` (one test per branch)
runs in a pytest subprocess against it (``--lsh-backend external``): first once to deploy the
app (not measured), then ``--rounds`` times in each mode, alternating, with
``LSH_SAGA_TIME_SCALE`` = 0.001 (the tests' default) or 1 (real time). Per run: the wall time of
the pytest process and the sum of the tests' call durations (``--durations=0``; the deploy and
LocalStack are outside it). The ratio is real ÷ virtual, medians.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SUITE = "tests/e2e/order_saga/test_saga.py"
MODES = {"virtual": "0.001", "real": "1"}
_CALL = re.compile(r"^\s*([\d.]+)s call\s+(\S+)", re.M)


def run_suite(endpoint: str, scale: str) -> dict:
    env = {**os.environ, "LSH_SAGA_TIME_SCALE": scale}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider", "--durations=0",
         "--durations-min=0", "--lsh-backend", "external", "--lsh-endpoint", endpoint],
        cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"bench/saga.py: the suite failed with LSH_SAGA_TIME_SCALE={scale}:\n"
                 f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    calls = {name.rsplit("::", 1)[-1]: float(s) for s, name in _CALL.findall(done.stdout)}
    return {"wall_s": round(wall, 2), "calls_s": round(sum(calls.values()), 2),
            "per_test_s": {k: round(v, 2) for k, v in calls.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from harness.localstack import create_backend

    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    with create_backend("embedded") as localstack:
        print("deploying (warm-up run, not measured) ...", flush=True)
        run_suite(localstack.endpoint_url, MODES["virtual"])
        for round_ in range(args.rounds):
            for mode, scale in (MODES.items() if round_ % 2 == 0 else reversed(MODES.items())):
                result = run_suite(localstack.endpoint_url, scale)
                runs[mode].append(result)
                print(f"round {round_ + 1} {mode:>7}: tests {result['calls_s']:6.2f} s, "
                      f"pytest {result['wall_s']:6.2f} s", flush=True)
    medians = {mode: {key: round(statistics.median(r[key] for r in results), 2)
                      for key in ("calls_s", "wall_s")} for mode, results in runs.items()}
    ratio = {key: round(medians["real"][key] / medians["virtual"][key], 2)
             for key in ("calls_s", "wall_s")}
    path = write_result("saga", {"suite": SUITE, "scale": MODES, "rounds": args.rounds,
                                 "medians": medians, "ratio_real_over_virtual": ratio,
                                 "runs": runs})
    print(f"branch suite: tests {medians['virtual']['calls_s']} s virtual vs "
          f"{medians['real']['calls_s']} s real ({ratio['calls_s']}x); pytest wall "
          f"{medians['virtual']['wall_s']} vs {medians['real']['wall_s']} s "
          f"({ratio['wall_s']}x); {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
