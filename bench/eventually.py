"""Benchmark ``eventually``: detection delay and load on LocalStack, default policy.

Run with ``make bench`` (or ``.venv/bin/python bench/eventually.py``); writes
``bench/results/eventually.json``.

- detection delay: a writer thread puts a DynamoDB item at a random moment 0.1-1.5 s after the
  check starts; the check reads the item with ``eventually`` (default policy). Delay = when the
  check returned minus when ``put_item`` returned. 100 trials.
- load: requests per second made by one waiting check, over a whole trial and over a 5 s wait
  for an item that never comes (the settled rate).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import summary_ms, write_result  # noqa: E402

from harness.localstack import EmbeddedBackend  # noqa: E402
from harness.waits import DEFAULT_POLICY, EventuallyTimeout, Policy, eventually  # noqa: E402


def main(trials: int = 100, policy=DEFAULT_POLICY, name: str = "eventually") -> None:
    with EmbeddedBackend(progress=lambda _l: None) as localstack:
        ddb = localstack.client("dynamodb")
        table = f"bench-{uuid.uuid4().hex[:6]}"
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        writer = localstack.client("dynamodb")
        delays, rates = [], []
        for n in range(trials):
            key = {"pk": {"S": f"k{n}"}}
            written = {}

            def write():
                writer.put_item(TableName=table, Item=key)
                written["at"] = time.monotonic()

            calls = 0

            def check():
                nonlocal calls
                calls += 1
                return ddb.get_item(TableName=table, Key=key).get("Item")

            started = time.monotonic()
            threading.Timer(random.uniform(0.1, 1.5), write).start()
            eventually(check, timeout=10, policy=policy)
            seen = time.monotonic()
            delays.append(max(0.0, seen - written["at"]))
            rates.append(calls / (seen - started))
        calls = 0

        def never():
            nonlocal calls
            calls += 1
            return ddb.get_item(TableName=table, Key={"pk": {"S": "never"}}).get("Item")

        started = time.monotonic()
        try:
            eventually(never, timeout=5, policy=policy)
        except EventuallyTimeout:
            pass
        settled_rate = calls / (time.monotonic() - started)
    result = {
        "command": "make bench (bench/eventually.py)",
        "policy": {"initial_s": policy.initial, "cap_s": policy.cap,
                   "jitter_s": policy.jitter, "default": policy == DEFAULT_POLICY},
        "detection_delay": summary_ms(delays),
        "requests_per_second_per_check": {
            "mean_over_trials": round(sum(rates) / len(rates), 1),
            "max_over_trials": round(max(rates), 1),
            "settled_5s_wait": round(settled_rate, 1)},
        "targets": {"delay_p50_ms": 50, "delay_p99_ms": 50, "requests_per_second": 20},
    }
    write_result(name, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
    # the other side of the trade-off (README): a lower cap, more requests
    main(policy=Policy(cap=0.040), name="eventually_cap40")
