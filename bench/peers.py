"""Our embedded LocalStack side by side with MiniStack (PyPI ``ministack``), same workload, one run.

Run with ``make bench`` (or ``.venv/bin/python bench/peers.py [--rounds N]``); writes
``bench/results/peers.json`` and ``bench/results/peers.png``.

MiniStack is installed into its own virtualenv under the harness cache
(``$LSH_CACHE_DIR/ministack-<version>``) and started as ``python -m ministack`` on a free port.
Each round starts each emulator once, alternating (ours, MiniStack, ours, ...), and runs the same
boto3 workload on it:

- start → ready: process start until its health route answers;
- deploy: the reference app ``order_events`` (the one MiniStack can deploy: no custom resource)
  with the harness's deployer (synthesis cached, so only the emulator's work is timed), then the
  reference upload pipeline (MiniStack cannot: CDK's Node.js auto-delete custom resource needs
  ``@aws-sdk/client-s3``; its failure is recorded after ``--upload-pipeline-timeout``, not fatal);
- cold pytest (ours only, after its round's emulator stopped): ``pytest`` of one order-events e2e
  test in a fresh process, from command to exit (a fresh LocalStack, synthesis cached), next to
  MiniStack's start + deploy of the same app in the same round;
- cold invoke (a new function's first invoke) and warm invoke (p50/p99 of sequential invokes);
- SQS send → handler start, read from the handler's own clock (host processes share it);
- S3 put → DynamoDB item over S3 → SNS → SQS → Lambda → DynamoDB, built with API calls (the same
  on both, whether or not the CDK app deploys), one put at a time;
- a burst of puts at once (16 threads) on that chain: items/s from the first put to the last
  item's write, items lost, and CPU seconds of the emulator's whole process tree (its function
  processes included), read from ``/proc``.

Medians over the rounds are compared as ``ours ÷ MiniStack`` (above 1: we are slower).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the reference apps' test code
from _common import machine, percentile, write_result, zip_of  # noqa: E402
from startup import ECHO, ROLE, create, sqs_to_lambda  # noqa: E402

from harness.localstack import EmbeddedBackend, venvs  # noqa: E402
from harness.localstack.base import LocalStack  # noqa: E402
from harness.waits import Policy, eventually  # noqa: E402

MINISTACK_VERSION = "1.5.33"
QUIET = dict(progress=lambda _line: None)
CHAIN_HANDLER = '''
import json, os, time, boto3
ddb = boto3.client("dynamodb")
def handler(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        if "Message" in body and "Records" not in body:  # not raw: an SNS envelope
            body = json.loads(body["Message"])
        for s3_record in body.get("Records", []):
            ddb.put_item(TableName=os.environ["TABLE"], Item={
                "id": {"S": s3_record["s3"]["object"]["key"]},
                "written": {"N": repr(time.time())}})
'''


# ---------------------------------------------------------------------------- the emulators

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ministack_venv() -> Path:
    """A cached virtualenv holding ``ministack==MINISTACK_VERSION`` (built once)."""
    path = venvs.cache_root() / f"ministack-{MINISTACK_VERSION}"
    marker = path / ".lsh-complete"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        # boto3 too: MiniStack runs Python functions in its own venv, AWS's runtimes ship boto3
        subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", f"ministack=={MINISTACK_VERSION}",
                        "boto3"], check=True)
        marker.write_text(MINISTACK_VERSION)
    return path


class Emulator:
    """Start/stop one emulator and tell the pid of its root process."""

    name = ""

    def start(self) -> LocalStack:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def pid(self) -> int:
        raise NotImplementedError


class Ours(Emulator):
    name = "ours (LocalStack 4.8.1 embedded)"

    def start(self) -> LocalStack:
        self.backend = EmbeddedBackend(**QUIET)
        return self.backend.start()

    def stop(self) -> None:
        self.backend.stop()

    def pid(self) -> int:
        return self.backend.process.pid


class MiniStack(Emulator):
    name = f"MiniStack {MINISTACK_VERSION}"

    def __init__(self) -> None:
        self.python = ministack_venv() / "bin" / "python"

    def start(self) -> LocalStack:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LSH_"))}
        env.update(GATEWAY_PORT=str(port), BIND_HOST="127.0.0.1", LOG_LEVEL="WARNING",
                   TMPDIR=os.environ.get("TMPDIR", "/tmp"))
        self.log = open(f"/tmp/lsh-bench-ministack-{port}.log", "wb")
        self.process = subprocess.Popen([str(self.python), "-m", "ministack"], env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert self.process.poll() is None, f"MiniStack exited, see {self.log.name}"
            try:
                with urllib.request.urlopen(f"{url}/_ministack/health", timeout=1) as resp:
                    return resp.status == 200
            except OSError:
                return False

        eventually(ready, 60, policy=Policy(initial=0.01, cap=0.05), description="MiniStack ready")
        return LocalStack(url, "us-east-1", backend="ministack")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)  # a MiniStack that ran its course: nothing to read

    def pid(self) -> int:
        return self.process.pid


# ---------------------------------------------------------------------------- CPU from /proc

def _tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    todo.extend(int(c) for c in handle.read().split())
        except OSError:
            pass
    return pids


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of ``root`` and its live descendants, and of the children they reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _tree(root):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


# ---------------------------------------------------------------------------- the workload

#: the reference app deployed on both (``tests.e2e.<name>.demo.app()``), and the e2e test that
#: ``cold_pytest`` runs alone
DEPLOYED_APP = "order_events"
COLD_TEST = ("tests/e2e/order_events/test_orders.py::"
             "test_the_rule_targets_the_processor_with_the_dlq_for_undeliverable_events")


def deploy_reference_app(ls: LocalStack, timeout: float, name: str = DEPLOYED_APP) -> dict:
    import importlib

    from harness.deploy import deploy_app

    app = (importlib.import_module("tests.e2e.upload_pipeline.demo").pipeline_app()
           if name == "upload_pipeline" else importlib.import_module(f"tests.e2e.{name}.demo").app())
    t = time.perf_counter()
    try:
        deploy_app(ls, app, timeout=timeout)
    except Exception as e:  # MiniStack may not run our CDK app: say so, measure the rest
        return {"ok": False, "seconds": round(time.perf_counter() - t, 2),
                "error": f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"}
    return {"ok": True, "seconds": round(time.perf_counter() - t, 2)}


def cold_pytest(test: str = COLD_TEST) -> dict:
    """``pytest`` of one e2e test in a fresh process: seconds from command to exit."""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "LSH_REUSE_UP"}
    env["LSH_REUSE_UP"] = "0"  # a fresh LocalStack, never a running `lsh up`
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    seconds = round(time.perf_counter() - t, 2)
    if done.returncode != 0:
        return {"ok": False, "seconds": seconds, "error": done.stdout[-500:] + done.stderr[-500:]}
    return {"ok": True, "seconds": seconds}


def invokes(ls: LocalStack, warm_n: int) -> dict:
    lam = ls.client("lambda")
    name = f"peer-{uuid.uuid4().hex[:6]}"
    create(lam, name, ECHO)
    t = time.perf_counter()
    lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
    cold = time.perf_counter() - t
    warm = []
    for i in range(warm_n):
        t = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=json.dumps({"i": i}).encode())["Payload"].read()
        warm.append(time.perf_counter() - t)
    return {"cold_invoke_ms": round(cold * 1000, 1),
            "warm_p50_ms": round(percentile(warm, 50) * 1000, 1),
            "warm_p99_ms": round(percentile(warm, 99) * 1000, 1)}


class Chain:
    """S3 bucket → SNS topic → SQS queue (raw) → Lambda → DynamoDB table, by API calls."""

    def __init__(self, ls: LocalStack) -> None:
        tag = uuid.uuid4().hex[:6]
        self.s3, self.ddb = ls.client("s3"), ls.client("dynamodb")
        sns, sqs, lam = ls.client("sns"), ls.client("sqs"), ls.client("lambda")
        self.table = f"peer-items-{tag}"
        self.ddb.create_table(TableName=self.table, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        topic = sns.create_topic(Name=f"peer-uploads-{tag}")["TopicArn"]
        url = sqs.create_queue(QueueName=f"peer-uploads-{tag}",
                               Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn}]})})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})
        self.bucket = f"peer-uploads-{tag}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"TopicConfigurations": [
                {"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
        name = f"peer-writer-{tag}"
        create(lam, name, CHAIN_HANDLER, {"TABLE": self.table})
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=10)

    def written(self, key: str) -> float | None:
        item = self.ddb.get_item(TableName=self.table, Key={"id": {"S": key}}).get("Item")
        return float(item["written"]["N"]) if item else None

    def count(self) -> int:
        total, kwargs = 0, {}
        while True:
            page = self.ddb.scan(TableName=self.table, Select="COUNT", **kwargs)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                return total
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def latencies(self, n: int) -> list[float]:
        out = []
        for i in range(n + 1):
            key = f"lat/{i}"
            t = time.time()
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"x")
            written = eventually(lambda: self.written(key), 30,
                                 policy=Policy(initial=0.002, cap=0.01),
                                 description=f"item for {key}")
            if i:  # the first one also starts the execution environment
                out.append(written - t)
        return out

    def burst(self, n: int, cpu: Callable[[], float]) -> dict:
        before_items = self.count()
        cpu_before = cpu()
        start = time.time()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: self.s3.put_object(Bucket=self.bucket, Key=f"burst/{i}",
                                                       Body=b"y"), range(n)))
        try:
            eventually(lambda: self.count() - before_items >= n or None, 180,
                       policy=Policy(initial=0.1, cap=0.5), description=f"{n} items")
        except Exception:
            pass  # counted as lost below
        cpu_s = cpu() - cpu_before
        stamps = [self.written(f"burst/{i}") for i in range(n)]
        done = [s for s in stamps if s is not None]
        last = max(done) if done else time.time()
        return {"sent": n, "items": len(done), "lost": n - len(done),
                "items_per_s": round(len(done) / max(last - start, 1e-3), 1),
                "cpu_s": round(cpu_s, 2),
                "cpu_ms_per_event": round(cpu_s * 1000 / max(len(done), 1), 1)}


def run_one(emulator: Emulator, args: argparse.Namespace) -> dict:
    t = time.perf_counter()
    ls = emulator.start()
    result: dict = {"start_to_ready_s": round(time.perf_counter() - t, 2)}
    try:
        result["deploy"] = deploy_reference_app(ls, args.deploy_timeout)
        result["deploy_upload_pipeline"] = deploy_reference_app(
            ls, args.deploy_timeout if isinstance(emulator, Ours) else args.upload_pipeline_timeout,
            "upload_pipeline")
        result.update(invokes(ls, args.warm))
        sqs = sqs_to_lambda(ls, args.sqs)
        result["sqs_to_handler_p50_ms"] = round(percentile(sqs, 50) * 1000, 1)
        chain = Chain(ls)
        lat = chain.latencies(args.chain)
        result["s3_to_item_p50_ms"] = round(percentile(lat, 50) * 1000, 1)
        result["burst"] = chain.burst(args.burst, lambda: tree_cpu_seconds(emulator.pid()))
    except Exception as e:  # keep what was measured, say what failed
        result["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
    finally:
        emulator.stop()
    return result


#: (label, how to read it from a round's result); lower is better except items/s
METRICS: list[tuple[str, Callable[[dict], float | None]]] = [
    ("start → ready (s)", lambda r: r.get("start_to_ready_s")),
    (f"deploy of {DEPLOYED_APP}, synthesis cached (s)",
     lambda r: r["deploy"]["seconds"] if r.get("deploy", {}).get("ok") else None),
    ("start + that deploy (s)",
     lambda r: r["start_to_ready_s"] + r["deploy"]["seconds"] if r.get("deploy", {}).get("ok")
     else None),
    ("cold pytest of one e2e test, command to exit (s) [MiniStack: start + deploy]",
     lambda r: r["cold_pytest"]["seconds"] if r.get("cold_pytest", {}).get("ok")
     else r["start_to_ready_s"] + r["deploy"]["seconds"] if "cold_pytest" not in r
     and r.get("deploy", {}).get("ok") else None),
    ("deploy of upload_pipeline, synthesis cached (s)",
     lambda r: r["deploy_upload_pipeline"]["seconds"]
     if r.get("deploy_upload_pipeline", {}).get("ok") else None),
    ("cold invoke (ms)", lambda r: r.get("cold_invoke_ms")),
    ("warm invoke p50 (ms)", lambda r: r.get("warm_p50_ms")),
    ("warm invoke p99 (ms)", lambda r: r.get("warm_p99_ms")),
    ("SQS send → handler p50 (ms)", lambda r: r.get("sqs_to_handler_p50_ms")),
    ("S3 put → DynamoDB item p50 (ms)", lambda r: r.get("s3_to_item_p50_ms")),
    ("burst items/s", lambda r: r.get("burst", {}).get("items_per_s")),
    ("burst lost", lambda r: r.get("burst", {}).get("lost")),
    ("burst CPU s (all processes)", lambda r: r.get("burst", {}).get("cpu_s")),
    ("burst CPU ms per event (all processes)",
     lambda r: r.get("burst", {}).get("cpu_ms_per_event")),
]


def median_of(rounds: list[dict], read: Callable[[dict], float | None]) -> float | None:
    values = []
    for r in rounds:
        try:
            value = read(r)
        except (KeyError, TypeError):
            value = None
        if value is not None:
            values.append(value)
    return round(statistics.median(values), 2) if values else None


def table(ours: list[dict], peer: list[dict]) -> list[dict]:
    rows = []
    for label, read in METRICS:
        a, b = median_of(ours, read), median_of(peer, read)
        ratio = round(a / b, 2) if a is not None and b else None
        rows.append({"what": label, "ours": a, "ministack": b, "ours_over_ministack": ratio})
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    shown = [r for r in rows if r["ours_over_ministack"] and r["what"] != "burst lost"]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.barh([r["what"] for r in shown], [r["ours_over_ministack"] for r in shown])
    ax.axvline(1, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for row_index, row in enumerate(shown):
        ax.annotate(f"{row['ours_over_ministack']}×", (row["ours_over_ministack"], row_index),
                    xytext=(3, -3), textcoords="offset points", fontsize=8)
    ax.set_xlabel("ours ÷ MiniStack (median; > 1: ours is slower, or for items/s: faster)")
    ax.set_title(f"embedded LocalStack 4.8.1 vs MiniStack {MINISTACK_VERSION}, "
                 f"{machine()['cores']} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=100, help="warm invokes per round")
    parser.add_argument("--sqs", type=int, default=30, help="SQS messages per round")
    parser.add_argument("--chain", type=int, default=30, help="S3 puts one at a time per round")
    parser.add_argument("--burst", type=int, default=300, help="S3 puts at once per round")
    parser.add_argument("--deploy-timeout", type=float, default=60,
                        help="seconds a deploy may take before it counts as failed")
    parser.add_argument("--upload-pipeline-timeout", type=float, default=20,
                        help="seconds MiniStack gets for the upload pipeline (it cannot deploy it)")
    parser.add_argument("--no-cold-pytest", action="store_true",
                        help="skip the cold pytest run of one e2e test (ours)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    peer = MiniStack()  # builds its venv once, outside every timing
    runs: dict[str, list[dict]] = {"ours": [], "ministack": []}
    for i in range(args.rounds):
        for key, emulator in (("ours", Ours()), ("ministack", peer)):
            runs[key].append(run_one(emulator, args))
            if key == "ours" and not args.no_cold_pytest:  # its LocalStack is stopped by now
                runs[key][-1]["cold_pytest"] = cold_pytest()
            print(f"round {i + 1} {emulator.name}: {json.dumps(runs[key][-1])}", flush=True)
    rows = table(runs["ours"], runs["ministack"])
    result = {"command": "make bench (bench/peers.py " + " ".join(sys.argv[1:]) + ")",
              "ministack_version": MINISTACK_VERSION, "rounds": args.rounds,
              "workload": vars(args), "load_average_before": [round(x, 2) for x in load_before],
              "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "table": rows, "runs": runs}
    path = write_result("peers", result)
    plot(rows, path.with_suffix(".png"))
    for row in rows:
        print(f"| {row['what']} | {row['ministack']} | {row['ours']} | "
              f"{row['ours_over_ministack']} |")


if __name__ == "__main__":
    main()
