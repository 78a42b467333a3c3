"""Idempotency checks: do the same thing N times, assert exactly one effect, show a diff if not.

    report = assert_exactly_once(
        send=lambda i: client.post_api(body, idempotency_key="k-1"),
        effects=lambda: client.items_for_key(...),     # what the action leaves behind
        times=5, concurrently=True)

``effects`` returns the effects seen so far (items, notifications, rows...). The check waits for
the first effect, then keeps watching for ``quiet`` seconds, so late duplicates are caught and
counted too.
"""

from __future__ import annotations

import difflib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from harness.waits import Policy, eventually

WATCH_POLICY = Policy(timeout=30.0, initial=0.02, cap=0.2)


@dataclass
class IdempotencyReport:
    sends: int
    results: list[Any]
    effects: list[Any]


def _pretty(effect: Any) -> list[str]:
    return json.dumps(effect, indent=2, sort_keys=True, default=str).splitlines()


def effects_diff(effects: Sequence[Any]) -> str:
    """Every effect after the first, as a unified diff against the first."""
    if len(effects) < 2:
        return ""
    first = _pretty(effects[0])
    parts = []
    for n, other in enumerate(effects[1:], start=2):
        parts.append("\n".join(difflib.unified_diff(first, _pretty(other), "effect 1",
                                                    f"effect {n}", lineterm="")) or
                     f"effect {n} is identical to effect 1")
    return "\n".join(parts)


def assert_exactly_once(send: Callable[[int], Any], effects: Callable[[], Sequence[Any]], *,
                        times: int = 3, concurrently: bool = False, quiet: float = 1.5,
                        timeout: float | None = None) -> IdempotencyReport:
    """Call ``send(i)`` for i in 0..times-1 (in parallel with ``concurrently``), then assert
    ``effects()`` settles on exactly one effect."""
    if concurrently:
        with ThreadPoolExecutor(times) as pool:
            results = list(pool.map(send, range(times)))
    else:
        results = [send(i) for i in range(times)]
    eventually(lambda: len(effects()) >= 1, timeout, policy=WATCH_POLICY,
               description=f"a first effect of {times} identical sends")
    # keep watching for the whole quiet period: late duplicates, and the full count when there
    # are several (the first extra one can show up before the last)
    deadline = time.monotonic() + quiet
    seen = list(effects())
    while time.monotonic() < deadline:
        time.sleep(0.1)
        seen = list(effects())
    assert len(seen) == 1, (
        f"{times} identical sends ({'concurrent' if concurrently else 'sequential'}) left "
        f"{len(seen)} effects, not 1:\n{effects_diff(seen)}")
    return IdempotencyReport(times, results, seen)


def deliver_duplicates(sqs, queue_url: str, body: str, times: int = 2, **attributes: str) -> list[str]:
    """The same message body delivered ``times`` times to a queue, as SQS's at-least-once
    delivery sometimes does; returns the message ids."""
    extra = {"MessageAttributes": {k: {"DataType": "String", "StringValue": v}
                                   for k, v in attributes.items()}} if attributes else {}
    return [sqs.send_message(QueueUrl=queue_url, MessageBody=body, **extra)["MessageId"]
            for _ in range(times)]
