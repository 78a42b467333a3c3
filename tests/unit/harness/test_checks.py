"""The idempotency and concurrency checks catch what they are for (in-memory effects)."""

import asyncio
import threading

import pytest

from harness.concurrency import fire
from harness.idempotency import assert_exactly_once, effects_diff


def test_exactly_once_passes_for_an_idempotent_action():
    store = {}
    report = assert_exactly_once(lambda i: store.setdefault("k", {"n": 1}),
                                 lambda: list(store.values()), times=4, quiet=0.2)
    assert report.effects == [{"n": 1}] and report.sends == 4


def test_exactly_once_fails_with_a_diff_for_a_duplicating_action():
    rows = []
    lock = threading.Lock()

    def send(i):
        with lock:
            rows.append({"id": "k", "attempt": i})

    with pytest.raises(AssertionError) as info:
        assert_exactly_once(send, lambda: list(rows), times=3, concurrently=True, quiet=0.2)
    text = str(info.value)
    assert "left 3 effects, not 1" in text
    assert '-  "attempt": 0' in text or '+  "attempt":' in text


def test_a_late_duplicate_is_caught():
    rows = []

    def send(i):
        if i == 0:
            rows.append("first")
            threading.Timer(0.3, lambda: rows.append("late duplicate")).start()

    with pytest.raises(AssertionError, match="left 2 effects"):
        assert_exactly_once(send, lambda: list(rows), times=2, quiet=1.0)


def test_effects_diff_names_the_difference():
    assert "effect 2 is identical" in effects_diff([{"a": 1}, {"a": 1}])
    assert '+  "a": 2' in effects_diff([{"a": 1}, {"a": 2}])


async def test_fire_reports_lost_duplicated_and_latency():
    effects: dict[int, int] = {}

    async def send(n):
        await asyncio.sleep(0.01)
        if n % 10 != 3:  # every tenth event (3, 13, ...) is lost
            asyncio.get_running_loop().call_later(0.02, effects.__setitem__, n,
                                                  2 if n == 7 else 1)
        return n

    report = await fire(range(30), send, lambda n: effects.get(n, 0), concurrency=8, timeout=0.5)
    assert [o.key for o in report.lost] == [3, 13, 23]
    assert [o.key for o in report.duplicated] == [7]
    # each effect lands 30 ms after the send starts at the earliest; a delivered event is one
    # seen before the 0.5 s timeout (no tighter upper bound: speed is for the benchmarks)
    assert 30 <= report.percentile_ms(50) <= 500
    with pytest.raises(AssertionError, match="27 delivered, 3 lost, 1 duplicated"):
        report.assert_none_lost_or_duplicated()


async def test_fire_counts_a_failed_send_as_lost():
    def send(n):
        raise ConnectionError("endpoint down")

    report = await fire([1], send, lambda key: 1)
    assert report.lost and "endpoint down" in report.lost[0].error
