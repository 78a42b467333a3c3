"""Benchmark the foundation: LocalStack start, Lambda invoke latency, SQS → Lambda latency.

Run with ``make bench`` (or ``.venv/bin/python bench/startup.py``); writes
``bench/results/startup.json`` and ``bench/results/startup.png``.

- cold start to ready: ``EmbeddedBackend.start()`` with the venvs already built, N times;
- cold invoke: the first invoke of a new function (a new execution environment is started);
- warm invoke: 200 sequential invokes of the same function, p50/p99;
- SQS → Lambda: the time from ``SendMessage`` returning to the handler starting, read from the
  handler's own clock (host processes share it), over 50 messages one at a time;
- DynamoDB Streams → Lambda: the same from ``PutItem`` returning, over 50 writes one at a time;
- ``--push-compare N`` runs only the push comparison (``bench/results/push.json``): N alternating
  rounds, each setting on a fresh LocalStack (LSH_ESM_PUSH off/on, empty-poll backoff 0.1/1 s):
  CPU of LocalStack's process tree while 3 SQS and 3 stream mappings sit idle, then SQS → Lambda
  and Streams → Lambda p50;
- backends side by side (``--no-containers`` leaves this out): embedded vs testcontainers (image
  already built), cold start to ready and cold start to the reference pipeline deployed (synthesis
  cached, so both measure LocalStack plus the CloudFormation deploy), 3 runs each; and the image
  build, cold (empty cache, everything downloaded), from cached inputs, and skipped (current), as
  ratios (``bench/containers_bench.py``).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the reference apps' test code
from _common import machine, summary_ms, write_result, zip_of  # noqa: E402

from harness.localstack import EmbeddedBackend  # noqa: E402
from harness.localstack.base import Backend  # noqa: E402
from harness.waits import eventually  # noqa: E402

ECHO = "def handler(event, context):\n    return event\n"
STAMP = '''
import os, time, boto3
ddb = boto3.client("dynamodb")
def handler(event, context):
    started = time.time()
    for record in event["Records"]:
        ddb.put_item(TableName=os.environ["TABLE"], Item={
            "id": {"S": record["body"]}, "started": {"N": repr(started)}})
'''
ROLE = "arn:aws:iam::000000000000:role/bench"


def start_stop(runs: int, make_backend: Callable[[], Backend] | None = None) -> list[float]:
    """Seconds from ``start()`` to ready, ``runs`` times (embedded unless ``make_backend``)."""
    times = []
    for _ in range(runs):
        backend = (make_backend or (lambda: EmbeddedBackend(progress=lambda _line: None)))()
        t = time.perf_counter()
        backend.start()
        times.append(time.perf_counter() - t)
        backend.stop()
    return times


def create(lam, name: str, code: str, env: dict | None = None) -> None:
    lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
                        Code={"ZipFile": zip_of({"app.py": code})}, Timeout=30,
                        Environment={"Variables": env or {}})
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})


def invoke_latencies(localstack, warm_n: int, cold_n: int) -> tuple[list[float], list[float]]:
    lam = localstack.client("lambda")
    cold = []
    for i in range(cold_n):
        name = f"cold-{i}-{uuid.uuid4().hex[:6]}"
        create(lam, name, ECHO)
        t = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")
        cold.append(time.perf_counter() - t)
    name = f"warm-{uuid.uuid4().hex[:6]}"
    create(lam, name, ECHO)
    lam.invoke(FunctionName=name, Payload=b"{}")
    warm = []
    for i in range(warm_n):
        t = time.perf_counter()
        resp = lam.invoke(FunctionName=name, Payload=json.dumps({"i": i}).encode())
        resp["Payload"].read()
        warm.append(time.perf_counter() - t)
    return cold, warm


def sqs_to_lambda(localstack, n: int) -> list[float]:
    lam, sqs, ddb = (localstack.client(s) for s in ("lambda", "sqs", "dynamodb"))
    table = f"bench-{uuid.uuid4().hex[:6]}"
    _table(ddb, table)
    name = f"sqs-{uuid.uuid4().hex[:6]}"
    create(lam, name, STAMP, {"TABLE": table})
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    return _handler_start_latencies(
        ddb, table, n, lambda key: sqs.send_message(QueueUrl=url, MessageBody=key), "message")


def _handler_start_latencies(ddb, stamps: str, n: int, trigger, what: str) -> list[float]:
    """Seconds from ``trigger(key)`` returning to the handler starting on ``key`` (its own clock,
    stamped in the ``stamps`` table), for n of n + 1 keys: the first also starts the environment."""
    latencies = []
    for i in range(n + 1):
        key = f"k{i}"
        trigger(key)
        done = time.time()

        def started():
            item = ddb.get_item(TableName=stamps, Key={"id": {"S": key}}).get("Item")
            return item and float(item["started"]["N"])

        began = eventually(started, timeout=30, description=f"{what} {key} processed")
        if i:
            latencies.append(began - done)
    return latencies


STREAM_STAMP = '''
import os, time, boto3
ddb = boto3.client("dynamodb")
def handler(event, context):
    started = time.time()
    for record in event["Records"]:
        ddb.put_item(TableName=os.environ["TABLE"], Item={
            "id": record["dynamodb"]["Keys"]["id"], "started": {"N": repr(started)}})
'''


def _table(ddb, name: str, stream: bool = False) -> str | None:
    """Create a table keyed by ``id``; its stream ARN when ``stream``."""
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}}
    description = ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        **(extra if stream else {}))["TableDescription"]
    return description.get("LatestStreamArn")


def stream_to_lambda(localstack, n: int) -> list[float]:
    """Seconds from ``PutItem`` returning to the stream handler starting (its own clock)."""
    lam, ddb = localstack.client("lambda"), localstack.client("dynamodb")
    suffix = uuid.uuid4().hex[:6]
    stamps, source = f"bench-stamps-{suffix}", f"bench-source-{suffix}"
    _table(ddb, stamps)
    stream_arn = _table(ddb, source, stream=True)
    name = f"stream-{suffix}"
    create(lam, name, STREAM_STAMP, {"TABLE": stamps})
    uuid_ = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream_arn,
                                            StartingPosition="TRIM_HORIZON", BatchSize=1)["UUID"]
    eventually(lambda: lam.get_event_source_mapping(UUID=uuid_)["State"] == "Enabled",
               timeout=30, description="the stream mapping is enabled")
    return _handler_start_latencies(
        ddb, stamps, n, lambda key: ddb.put_item(TableName=source, Item={"id": {"S": key}}),
        "record")


def idle_mappings(localstack, n: int) -> None:
    """``n`` SQS and ``n`` DynamoDB Streams mappings, enabled, on sources nothing writes to."""
    lam, sqs, ddb = (localstack.client(s) for s in ("lambda", "sqs", "dynamodb"))
    name = f"idle-{uuid.uuid4().hex[:6]}"
    create(lam, name, ECHO)
    mappings = []
    for i in range(n):
        url = sqs.create_queue(QueueName=f"{name}-{i}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        mappings.append(lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn,
                                                        BatchSize=1)["UUID"])
        stream_arn = _table(ddb, f"{name}-{i}", stream=True)
        mappings.append(lam.create_event_source_mapping(
            FunctionName=name, EventSourceArn=stream_arn, StartingPosition="LATEST",
            BatchSize=1)["UUID"])
    for mapping in mappings:
        eventually(lambda: lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled",
                   timeout=30, description="an idle mapping is enabled")


def idle_cpu_percent(pid: int, seconds: float) -> float:
    """CPU of ``pid``'s process tree over ``seconds`` of wall time, in % of one core."""
    from peers import tree_cpu_seconds

    before, t = tree_cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)  # the measurement window itself, not a wait for a condition
    return 100 * (tree_cpu_seconds(pid) - before) / (time.perf_counter() - t)


#: (label, LocalStack settings) of the push comparison, in the order each round runs them
PUSH_SETTINGS: list[tuple[str, dict[str, str]]] = [
    ("polling only, backoff 0.1 s", {"LSH_ESM_PUSH": "0",
     "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "0.1"}),
    ("push, backoff 0.1 s", {"LSH_ESM_PUSH": "1",
     "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "0.1"}),
    ("push, backoff 1 s", {"LSH_ESM_PUSH": "1",
     "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "1"}),
]


def push_compare(rounds: int, idle_n: int = 3, idle_s: float = 20.0, n: int = 30) -> dict:
    """Idle CPU and event latency per setting of :data:`PUSH_SETTINGS`, alternating."""
    import os

    results: dict[str, list[dict]] = {label: [] for label, _ in PUSH_SETTINGS}
    for round_ in range(rounds):
        for label, settings in PUSH_SETTINGS:
            backend = EmbeddedBackend(settings=settings, progress=lambda _line: None)
            with backend as localstack:
                idle_mappings(localstack, idle_n)
                time.sleep(3)  # let the mappings' first polls and backoffs settle (not a wait)
                cpu = idle_cpu_percent(backend.process.pid, idle_s)
                row = {"idle_cpu_percent": round(cpu, 1),
                       "stream_to_lambda": summary_ms(stream_to_lambda(localstack, n)),
                       "sqs_to_lambda": summary_ms(sqs_to_lambda(localstack, n)),
                       "load_average": os.getloadavg()[0]}
            results[label].append(row)
            print(f"round {round_ + 1} {label}: idle CPU {row['idle_cpu_percent']} %, "
                  f"stream p50 {row['stream_to_lambda']['p50_ms']} ms, "
                  f"SQS p50 {row['sqs_to_lambda']['p50_ms']} ms, load {row['load_average']:.2f}",
                  flush=True)
    return {"command": f"bench/startup.py --push-compare {rounds}", "idle_mappings":
            f"{idle_n} SQS + {idle_n} DynamoDB Streams, CPU over {idle_s:.0f} s",
            "settings": dict(PUSH_SETTINGS), "rounds": results}


def start_to_deployed(make_backend: Callable[[], Backend], runs: int) -> list[float]:
    """Cold start of a backend to the reference pipeline deployed (synthesis cached)."""
    from tests.e2e.upload_pipeline.demo import pipeline_app
    from harness.deploy import deploy_app
    from harness.deploy.deployer import synth_cached

    synth_cached(pipeline_app(), "us-east-1")  # synthesis is not what this compares
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        with make_backend() as localstack:
            deploy_app(localstack, pipeline_app())
            times.append(time.perf_counter() - t)
    return times


def backends_side_by_side(runs: int = 3) -> tuple[dict, dict[str, list[float]]]:
    from containers_bench import bench_containers

    from harness.localstack.containers.container_backend import TestcontainersBackend

    quiet = dict(progress=lambda _line: None)
    images = bench_containers(cold=True, runs=runs, progress=print)
    samples = {
        "embedded ready": start_stop(runs),
        "docker ready": start_stop(runs, lambda: TestcontainersBackend(**quiet)),
        "embedded deployed": start_to_deployed(lambda: EmbeddedBackend(**quiet), runs),
        "docker deployed": start_to_deployed(lambda: TestcontainersBackend(**quiet), runs),
    }
    p50 = {k: summary_ms(v)["p50_ms"] for k, v in samples.items()}
    result = {
        "embedded_start_to_ready": summary_ms(samples["embedded ready"]),
        "testcontainers_start_to_ready": summary_ms(samples["docker ready"]),
        "embedded_start_to_deployed": summary_ms(samples["embedded deployed"]),
        "testcontainers_start_to_deployed": summary_ms(samples["docker deployed"]),
        "ratio_ready_testcontainers_over_embedded": round(
            p50["docker ready"] / p50["embedded ready"], 2),
        "ratio_deployed_testcontainers_over_embedded": round(
            p50["docker deployed"] / p50["embedded deployed"], 2),
        "image_build_cold_s": images["image_build_cold_s"],
        "image_build_cold_steps_s": images["image_build_cold_steps_s"],
        "image_build_from_cached_inputs_s": images["image_build_from_cached_inputs_s"],
        "image_build_plugin_change_s": images["image_build_plugin_change_s"],
        "image_build_skipped_s": images["image_build_skipped_s"],
        "ratio_image_build_cold_over_cached_inputs": round(
            images["image_build_cold_s"] / images["image_build_from_cached_inputs_s"], 1),
        "ratio_image_build_cold_over_skipped": round(
            images["image_build_cold_s"] / max(images["image_build_skipped_s"], 1e-3)),
        "image_size_mb": images["image_size_mb"],
    }
    return result, samples


def plot(samples: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    labels = list(samples)
    ax.boxplot([[s * 1000 for s in samples[k]] for k in labels], tick_labels=labels, showfliers=True)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log scale)")
    ax.set_title(f"LocalStack 4.8.1 (embedded unless 'docker'), {machine()['cores']} cores")
    ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    if "--push-compare" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--push-compare") + 1])
        print(json.dumps(write_result("push", push_compare(rounds)).name))
        return
    side_by_side, backend_samples = ({}, {}) if "--no-containers" in sys.argv else (
        backends_side_by_side())
    starts = start_stop(5)
    with EmbeddedBackend() as localstack:
        cold, warm = invoke_latencies(localstack, warm_n=200, cold_n=10)
        sqs = sqs_to_lambda(localstack, n=50)
        stream = stream_to_lambda(localstack, n=50)
    result = {
        "command": "make bench (bench/startup.py)",
        "cold_start_to_ready": summary_ms(starts),
        "cold_invoke": summary_ms(cold),
        "warm_invoke": summary_ms(warm),
        "sqs_send_to_lambda_start": summary_ms(sqs),
        "stream_write_to_lambda_start": summary_ms(stream),
        "targets": {"ready_s": 5, "warm_p50_ms": 30, "cold_invoke_ms": 300, "sqs_p50_ms": 150},
    }
    if side_by_side:
        result["backends"] = side_by_side
        write_result("backends", {"command": "make bench (bench/startup.py)", **side_by_side})
    path = write_result("startup", result)
    plot({"start→ready": starts, "cold invoke": cold, "warm invoke": warm, "SQS→Lambda": sqs,
          "Streams→Lambda": stream,
          **backend_samples}, path.with_suffix(".png"))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
