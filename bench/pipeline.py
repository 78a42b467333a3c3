"""Benchmark the reference pipeline: deploy time (harness deployer vs cdklocal), latency, throughput.

Run with ``make bench`` (or ``.venv/bin/python bench/pipeline.py``); writes
``bench/results/pipeline.json`` and ``bench/results/pipeline.png``.

- cold start to deployed: a fresh LocalStack, then the stack deployed, 3 runs each way: the
  harness's deployer (synthesis not cached: a true cold start; it synthesizes while LocalStack
  starts, as the ``deployed_app`` fixture does) and ``cdklocal`` (npm CLI);
- upload → CONFIRMED latency: 200 uploads sent 5 per second (open loop, below the pipeline's
  throughput on this machine, so it measures latency, not queueing); latency is the
  ``confirmed_at`` the confirmation sender wrote minus the moment the upload was sent (one host,
  one clock);
- throughput: 500 uploads sent at once (16 threads); events/s from the first send to the last
  confirmation; every upload must end as exactly one CONFIRMED item with one notification.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the reference apps' test code
from _common import machine, summary_ms, write_result  # noqa: E402

from tests.e2e.apps import REPO  # noqa: E402
from tests.e2e.upload_pipeline.demo import pipeline_app  # noqa: E402
from harness.deploy import deploy_app  # noqa: E402
from harness.deploy.deployer import synth_in_background  # noqa: E402
from harness.deploy.cdklocal import deploy_with_cdklocal  # noqa: E402
from harness.localstack import EmbeddedBackend, venvs  # noqa: E402
from tests.e2e.upload_pipeline.client import NotificationInbox, PipelineClient  # noqa: E402
from harness.waits import Policy, eventually  # noqa: E402

QUIET = dict(progress=lambda _line: None)


def epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def cold_deploy_harness(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        shutil.rmtree(venvs.cache_root() / "cdk-out", ignore_errors=True)  # no cached synth
        t = time.perf_counter()
        synthesized = synth_in_background(pipeline_app())  # as the pytest fixture does
        with EmbeddedBackend(**QUIET) as localstack:
            deploy_app(localstack, pipeline_app(), synthesized=synthesized)
            times.append(time.perf_counter() - t)
    return times


def cold_deploy_cdklocal(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        app_dir = Path(tempfile.mkdtemp(prefix="lsh-bench-cdklocal-"))
        try:
            for name in ("cdk.json", "infra", "functions"):
                src = REPO / name
                (shutil.copytree if src.is_dir() else shutil.copy)(src, app_dir / name)
            t = time.perf_counter()
            with EmbeddedBackend(**QUIET) as localstack:
                deploy_with_cdklocal(localstack, app_dir, context={"apps": "upload_pipeline"})
                times.append(time.perf_counter() - t)
        finally:
            shutil.rmtree(app_dir, ignore_errors=True)
    return times


def scan_all(client: PipelineClient, prefix: str) -> list[dict]:
    from boto3.dynamodb.conditions import Attr

    return client.scan(Attr("object_key").begins_with(prefix))


def count_confirmed(client: PipelineClient, prefix: str) -> int:
    """How many uploads under ``prefix`` are CONFIRMED: a scan that returns only a count.

    Polled while the pipeline works, so it must cost LocalStack little: returning every item
    each time (hundreds, serialized and parsed) took ~10 % of LocalStack's CPU in the run it
    measures.
    """
    from boto3.dynamodb.conditions import Attr

    return client.count(Attr("object_key").begins_with(prefix) & Attr("status").eq("CONFIRMED"))


def wait_all_confirmed(client: PipelineClient, prefix: str, n: int, timeout: float) -> list[dict]:
    eventually(lambda: count_confirmed(client, prefix) >= n or None, timeout,
               policy=Policy(initial=0.1, cap=0.5),
               description=f"{n} uploads under {prefix} confirmed")
    return scan_all(client, prefix)


def latency_run(client: PipelineClient, n: int, rate: float) -> list[float]:
    prefix = f"lat/{uuid.uuid4().hex[:6]}/"
    sent = {}
    for i in range(n):
        key = f"{prefix}{i:04d}.txt"
        sent[key] = time.time()
        client.upload(key, b"x")
        time.sleep(max(0.0, sent[key] + 1 / rate - time.time()))  # open loop, fixed rate
    items = wait_all_confirmed(client, prefix, n, timeout=120)
    return [epoch(i["confirmed_at"]) - sent[i["object_key"]] for i in items]


def throughput_run(client: PipelineClient, inbox: NotificationInbox, n: int) -> dict:
    prefix = f"tput/{uuid.uuid4().hex[:6]}/"
    start = time.time()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: client.upload(f"{prefix}{i:04d}.txt", b"y"), range(n)))
    sent_s = time.time() - start
    # Wait on the notifications (each is published once its item is CONFIRMED) rather than
    # scanning the table: moto copies every item of a scan, and polling that way took ~10 % of
    # LocalStack's CPU in the very run it measures. The table is read once, at the end.
    def all_notified():
        keys = {json.loads(body).get("object_key") for body in inbox.drain()}
        return sum(1 for key in keys if key and key.startswith(prefix)) >= n or None

    eventually(all_notified, 300, policy=Policy(initial=0.1, cap=0.5),
               description=f"a notification for each of the {n} uploads under {prefix}")
    items = wait_all_confirmed(client, prefix, n, timeout=30)
    last = max(epoch(i["confirmed_at"]) for i in items)
    keys = [i["object_key"] for i in items]
    ids = {i["event_id"] for i in items}

    def notified() -> dict[str, int]:
        counts = dict.fromkeys(ids, 0)
        for body in inbox.drain():
            event_id = json.loads(body).get("event_id")
            if event_id in counts:
                counts[event_id] += 1
        return counts if all(counts.values()) else None

    per_event = eventually(notified, 60, policy=Policy(initial=0.1, cap=0.5),
                           description="a notification for every upload")
    return {"sent": n, "send_seconds": round(sent_s, 2), "confirmed": len(items),
            "distinct_keys": len(set(keys)), "lost": n - len(set(keys)),
            "duplicated_items": len(keys) - len(set(keys)),
            "notifications_not_exactly_one": sum(c != 1 for c in per_event.values()),
            "seconds_to_last_confirmation": round(last - start, 2),
            "events_per_second": round(n / (last - start), 1)}


def plot(latencies: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ms = sorted(x * 1000 for x in latencies)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.hist(ms, bins=30)
    ax1.set_xlabel("upload → CONFIRMED (ms)")
    ax1.set_ylabel("events")
    ax2.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))])
    ax2.set_xlabel("upload → CONFIRMED (ms)")
    ax2.set_ylabel("fraction of events")
    ax2.grid(True)
    fig.suptitle(f"reference pipeline on embedded LocalStack, {len(ms)} uploads, "
                 f"{machine()['cores']} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    harness_cold = cold_deploy_harness(3)
    cdklocal_cold = cold_deploy_cdklocal(3)
    with EmbeddedBackend(**QUIET) as localstack:
        deployed = deploy_app(localstack, pipeline_app())
        t = time.perf_counter()
        deploy_app(localstack, pipeline_app())
        no_change = time.perf_counter() - t
        client = PipelineClient(localstack, deployed.outputs)
        inbox = NotificationInbox(localstack, deployed.outputs["NotificationTopicArn"])
        latency_run(client, 10, rate=10)  # warm the execution environments
        latencies = latency_run(client, 200, rate=5)
        throughput = throughput_run(client, inbox, 500)
    harness_p50 = summary_ms(harness_cold)["p50_ms"]
    cdklocal_p50 = summary_ms(cdklocal_cold)["p50_ms"]
    result = {
        "command": "make bench (bench/pipeline.py)",
        "cold_start_to_deployed": {
            "harness_deployer": summary_ms(harness_cold),
            "cdklocal": summary_ms(cdklocal_cold),
            "cdklocal_over_harness": round(cdklocal_p50 / harness_p50, 2),
        },
        "no_change_redeploy_ms": round(no_change * 1000, 1),
        "upload_to_confirmed": summary_ms(latencies),
        "throughput_500_at_once": throughput,
        "targets": {"deployed_s": 10, "ratio_min": 2, "p50_ms": 500, "p99_ms": 2000,
                    "events_per_second": 50},
    }
    path = write_result("pipeline", result)
    plot(latencies, path.with_suffix(".png"))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
