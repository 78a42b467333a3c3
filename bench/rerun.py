"""Benchmark the developer loop: one e2e test rerun while ``lsh up`` runs, command to result.

Run with ``.venv/bin/python bench/rerun.py [--rounds N]``; writes ``bench/results/rerun.json``.

Starts ``lsh up`` with the upload pipeline deployed in the e2e suite's context, then runs
``pytest tests/e2e/upload_pipeline/test_pipeline.py -k test_api_event_reaches_confirmed``
N times each way, alternating: *reuse* (the default: the session finds the running up and uses
its LocalStack; a no-change deploy), *reuse_no_pyc* (the same with ``PYTHONDONTWRITEBYTECODE=1``,
as this project's shared machines run: every module of the checkout compiled, and its asserts
rewritten by pytest, on every run) and *fresh* (``--lsh-fresh``: its own LocalStack start and
deploy). Each run is timed from the command's start to its exit, as a developer waits for it;
pytest's own "in X s" is kept beside it (the rest is Python start-up, imports, collection).
Runs other than *reuse_no_pyc* write bytecode as Python does by default, into a
``PYTHONPYCACHEPREFIX`` in the benchmark's temporary folder (the checkout stays clean); one
unrecorded reuse run first fills it, as a developer's first run does.

The up and the sessions use a cache folder of their own (``harness.up_state.private_cache``:
the shared venvs, synthesis and layer caches linked in, so nothing is rebuilt, but its own
``up.json``), so no other pytest session on the machine finds this benchmark's up and reuses
it, and this benchmark never reuses another's.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import write_result  # noqa: E402

from harness import up_state  # noqa: E402
from harness.localstack.embedded import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TEST = ["tests/e2e/upload_pipeline/test_pipeline.py", "-k", "test_api_event_reaches_confirmed"]
#: the e2e suite's context for the pipeline (tests/e2e/upload_pipeline/conftest.py), so the
#: session's deploy finds nothing to change
UP_ARGS = ["-c", "apps=upload_pipeline", "-c", "retry_delay_seconds=3"]
REUSED = "lsh: reusing the LocalStack of the running `lsh up`"
NOT_REUSED = re.compile(r"^lsh: starting a fresh LocalStack, not reusing .*$", re.M)


def session_env(cache: Path, bytecode: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LSH_BACKEND", "LSH_ENDPOINT", "LSH_PORT", "AWS_ENDPOINT_URL",
                        "LSH_REUSE_UP", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env["LSH_CACHE_DIR"] = str(cache)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(cache.parent / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def start_up(cache: Path, port: int, timeout: float = 600) -> subprocess.Popen:
    """``lsh up`` with the pipeline deployed, once it serves (its output goes to a log file)."""
    log = cache.parent / "lsh-up.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "up", "--port", str(port),
                                 *UP_ARGS], cwd=REPO, env=session_env(cache), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while "Press Ctrl-C to stop" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"lsh up did not come up:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    return proc


MODES = ("reuse", "reuse_no_pyc", "fresh")


def one_run(cache: Path, mode: str) -> dict[str, object]:
    command = [sys.executable, "-m", "pytest", "-o", f"cache_dir={cache.parent / 'pytest-cache'}",
               *TEST, *(["--lsh-fresh"] if mode == "fresh" else [])]
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, env=session_env(cache, mode != "reuse_no_pyc"),
                            capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - started
    said = re.search(r"1 passed(?:, \d+ deselected)? in ([0-9.]+)s", result.stdout)
    return {"mode": mode, "wall_s": round(wall, 2),
            "pytest_s": float(said.group(1)) if said else None, "exit": result.returncode,
            "reused": REUSED in result.stdout,
            "why_not_reused": (NOT_REUSED.findall(result.stdout) or [None])[0],
            **({"output_tail": (result.stdout + result.stderr)[-2000:]}
               if result.returncode else {})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs each way (default 5)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated ways to run (default {','.join(MODES)})")
    parser.add_argument("--name", default="rerun",
                        help="result file bench/results/<name>.json (default rerun)")
    args = parser.parse_args()
    modes = tuple(m for m in MODES if m in args.modes.split(","))
    with tempfile.TemporaryDirectory(prefix="lsh-bench-rerun-") as tmp:
        cache = up_state.private_cache(Path(tmp) / "cache")
        load_before = os.getloadavg()
        t = time.monotonic()
        up = start_up(cache, free_port())
        up_s = time.monotonic() - t
        print(f"lsh up serving after {up_s:.1f} s")
        runs: list[dict[str, object]] = []
        restarts: list[str | None] = []
        try:
            first = one_run(cache, "reuse")  # fills the bytecode cache; not counted
            print(f"first reuse run (bytecode cache filled): {first['wall_s']:.2f} s", flush=True)
            for i in range(args.rounds):
                for mode in modes if i % 2 == 0 else modes[::-1]:
                    run = one_run(cache, mode)
                    while mode != "fresh" and not run["reused"] and len(restarts) < 5:
                        # e.g. the plugin source changed meanwhile (a shared checkout): the up is
                        # stale, as the session says; start a current one and run again
                        restarts.append(run["why_not_reused"])
                        print(f"not reused ({run['why_not_reused']}): restarting lsh up",
                              flush=True)
                        up.send_signal(signal.SIGINT)
                        up.wait(timeout=60)
                        up = start_up(cache, free_port())
                        run = one_run(cache, mode)
                    runs.append(run)
                    print(f"round {i + 1} {runs[-1]['mode']:<5}: {runs[-1]['wall_s']:6.2f} s "
                          f"(pytest {runs[-1]['pytest_s']} s, exit {runs[-1]['exit']}, "
                          f"reused {runs[-1]['reused']})", flush=True)
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(timeout=60)
        load_after = os.getloadavg()
    summary = {}
    for mode in modes:
        walls = [r["wall_s"] for r in runs if r["mode"] == mode]
        ok = all(r["exit"] == 0 and r["reused"] == (mode != "fresh") for r in runs
                 if r["mode"] == mode)
        summary[mode] = {"median_wall_s": round(statistics.median(walls), 2),
                         "min_wall_s": min(walls), "max_wall_s": max(walls),
                         "median_pytest_s": round(statistics.median(
                             [r["pytest_s"] for r in runs if r["mode"] == mode
                              and r["pytest_s"] is not None] or [float("nan")]), 2),
                         "all_passed_as_expected": ok}
    path = write_result(args.name, {
        "command": "pytest " + " ".join(TEST), "up": "lsh up " + " ".join(UP_ARGS),
        "rounds": args.rounds, "lsh_up_ready_s": round(up_s, 1),
        "first_reuse_run": first, "lsh_up_restarts": restarts,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "summary": summary, "runs": runs, "target_reuse_wall_s": 2.0})
    print("; ".join(f"{mode}: median {s['median_wall_s']} s" for mode, s in summary.items())
          + f" ({args.rounds} rounds each, alternating; lsh up serving after {up_s:.1f} s; "
          f"load {load_before[0]:.2f} -> {load_after[0]:.2f}); {path}")
    return 0 if all(s["all_passed_as_expected"] for s in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
