"""Benchmark ``eventually``: detection delay and load on LocalStack, default policy.

Run with ``make bench`` (or ``.venv/bin/python bench/eventually.py``); writes
``bench/results/eventually.json``.

Two modes, both with the default policy:

- ``change_feed``: as in a pytest session (the ``localstack`` fixture makes LocalStack's change
  feed the active one, :mod:`harness.changes`), so a change in LocalStack wakes the check;
- ``polling_only``: no feed (``feed=None``), as against a LocalStack without our plugins.

Per mode:

- detection delay: a writer thread puts a DynamoDB item at a random moment 0.1-1.5 s after the
  check starts; the check reads the item with ``eventually``. Delay = when the check returned
  minus when ``put_item`` returned. ``TRIALS`` trials;
- load: requests per second made by one waiting check (its ``get_item`` calls), over each trial,
  and over a 5 s wait for an item that never comes: while nothing else happens ("settled") and
  while another client writes an item to another table every 10 ms (~60/s here, each write
  taking a few ms itself; "busy": every write wakes the check, the token bucket must hold it
  under ``max_rate``);
- the same detection delay while busy.

The feed itself is one HTTP request per process for the whole session (a stream), shared by all
waiting checks; it is not counted per check.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import summary_ms, write_result  # noqa: E402

from harness import changes  # noqa: E402
from harness.localstack import EmbeddedBackend  # noqa: E402
from harness.waits import DEFAULT_POLICY, EventuallyTimeout, eventually  # noqa: E402

TRIALS = 100
BUSY_WRITES_PER_S = 100


def create_table(ddb) -> str:
    table = f"bench-{uuid.uuid4().hex[:6]}"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    return table


@contextmanager
def busy_writer(localstack, table: str):
    """Another client writing ~BUSY_WRITES_PER_S items/s to ``table`` in the background; yields
    its stats, whose ``per_s`` (writes per second achieved) is set when the block ends."""
    client, stop = localstack.client("dynamodb"), threading.Event()
    stats = SimpleNamespace(writes=0, per_s=None)

    def run():
        while not stop.is_set():
            client.put_item(TableName=table, Item={"pk": {"S": f"noise-{stats.writes}"}})
            stats.writes += 1
            stop.wait(1 / BUSY_WRITES_PER_S)

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        yield stats
    finally:
        stop.set()
        thread.join()
        stats.per_s = stats.writes / (time.monotonic() - started)


def detection(localstack, table: str, feed, trials: int, tag: str) -> tuple[list, list]:
    ddb, writer = localstack.client("dynamodb"), localstack.client("dynamodb")
    delays, rates = [], []
    for n in range(trials):
        key = {"pk": {"S": f"{tag}-{n}"}}
        written: dict[str, float] = {}

        def write():
            writer.put_item(TableName=table, Item=key)
            written["at"] = time.monotonic()

        calls = 0

        def check():
            nonlocal calls
            calls += 1
            return ddb.get_item(TableName=table, Key=key).get("Item")

        started = time.monotonic()
        timer = threading.Timer(random.uniform(0.1, 1.5), write)
        timer.start()
        eventually(check, timeout=10, feed=feed)
        seen = time.monotonic()
        timer.join()  # the check may see the item before put_item has returned (delay 0)
        delays.append(max(0.0, seen - written["at"]))
        rates.append(calls / (seen - started))
    return delays, rates


def waiting_rate(localstack, table: str, feed, seconds: float = 5.0) -> float:
    ddb, calls = localstack.client("dynamodb"), 0

    def never():
        nonlocal calls
        calls += 1
        return ddb.get_item(TableName=table, Key={"pk": {"S": "never"}}).get("Item")

    started = time.monotonic()
    try:
        eventually(never, timeout=seconds, feed=feed)
    except EventuallyTimeout:
        pass
    return calls / (time.monotonic() - started)


def measure(localstack, feed, trials: int) -> dict:
    ddb = localstack.client("dynamodb")
    table, noise = create_table(ddb), create_table(ddb)
    delays, rates = detection(localstack, table, feed, trials, "quiet")
    settled = waiting_rate(localstack, table, feed)
    with busy_writer(localstack, noise) as busy:
        busy_rate = waiting_rate(localstack, table, feed)
        busy_delays, _ = detection(localstack, table, feed, max(20, trials // 5), "busy")
    return {
        "detection_delay": summary_ms(delays),
        "requests_per_second_per_check": {
            "mean_over_trials": round(sum(rates) / len(rates), 1),
            "max_over_trials": round(max(rates), 1),
            "settled_5s_wait": round(settled, 1),
            "busy_5s_wait": round(busy_rate, 1)},
        "busy": {"background_writes_per_s": round(busy.per_s, 1),
                 "detection_delay": summary_ms(busy_delays)},
    }


def main(trials: int = TRIALS) -> None:
    policy = DEFAULT_POLICY
    with EmbeddedBackend(progress=lambda _l: None) as localstack:
        with changes.ChangeFeed(localstack.endpoint_url) as feed:
            assert feed.live, f"no change feed: {feed.unavailable_reason}"
            with_feed = measure(localstack, feed, trials)
        polling = measure(localstack, None, trials)
    result = {
        "command": "make bench (bench/eventually.py)",
        "policy": {"initial_s": policy.initial, "cap_s": policy.cap, "jitter_s": policy.jitter,
                   "feed_interval_s": policy.feed_interval, "max_rate_per_s": policy.max_rate,
                   "burst": policy.burst},
        "trials": trials,
        "change_feed": with_feed,
        "polling_only": polling,
        "targets": {"delay_p50_ms": 50, "delay_p99_ms": 50, "requests_per_second": 20},
    }
    write_result("eventually", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else TRIALS)
