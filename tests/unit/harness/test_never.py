"""``never`` / ``never_async``: a check that must stay false for a window (no LocalStack; a fake
change feed where wake-ups matter)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from harness.waits import NeverViolated, Policy, never, never_async

SLOW_POLLING = Policy(feed_interval=5.0)  # with a live feed, only a wake-up re-checks in time


class _FakeFeed:
    """Live; ``change()`` wakes whoever waits."""

    live = True

    def __init__(self) -> None:
        self.version, self._event = 0, threading.Event()

    def change(self) -> None:
        self.version += 1
        self._event.set()

    def wait_for_change(self, after: int, timeout: float) -> bool:
        if self.version <= after:
            self._event.wait(timeout)
            self._event.clear()
        return self.version > after

    async def wait_for_change_async(self, after: int, timeout: float) -> bool:
        return await asyncio.to_thread(self.wait_for_change, after, timeout)


def test_a_check_that_stays_false_passes_after_the_whole_window():
    stamps: list[float] = []
    started = time.monotonic()

    def arrived():
        stamps.append(time.monotonic())
        return []

    checks = never(arrived, during=0.4, feed=None)
    assert checks == len(stamps) > 2
    assert stamps[-1] - started >= 0.39  # the last look is at the end of the window


def test_an_assertion_error_counts_as_not_holding():
    def not_there():
        raise AssertionError("no such item")

    assert never(not_there, during=0.1, feed=None) >= 1


def test_failure_says_what_was_seen_when_and_at_which_check():
    started = time.monotonic()

    def order_reached_processor():
        return ["TEST-1234"] if time.monotonic() - started > 0.15 else []

    with pytest.raises(NeverViolated) as info:
        never(order_reached_processor, during=5, feed=None)
    err = info.value
    assert 0.15 <= err.at < 1.0 and err.attempt > 1 and err.seen == ["TEST-1234"]
    text = str(err)
    assert "order_reached_processor" in text and "['TEST-1234']" in text
    assert "s into its 5 s window" in text
    assert time.monotonic() - started < 1.0  # fails at once, not at the end of the window


def test_the_description_names_the_condition():
    with pytest.raises(NeverViolated, match="^a SHIPPED order reaches the processor: happened"):
        never(lambda: {"status": "SHIPPED"}, during=1, feed=None,
              description="a SHIPPED order reaches the processor")


def test_other_exceptions_propagate_at_once():
    calls = []

    def broken():
        calls.append(1)
        raise KeyError("bug in the check")

    with pytest.raises(KeyError):
        never(broken, during=2, feed=None)
    assert calls == [1]


def _arriving(feed: _FakeFeed, after: float) -> dict:
    """State that turns true ``after`` s from now, with a change on the feed; notes when."""
    state: dict = {"arrived": False}

    def arrive():
        state["arrived"], state["at"] = True, time.monotonic()
        feed.change()

    threading.Timer(after, arrive).start()
    return state


def test_a_change_re_checks_at_once():
    feed = _FakeFeed()
    # backoff alone looks at ~0.635 s, then ~1.275 s (5, 10, 20 ... 640 ms apart)
    state = _arriving(feed, 0.7)
    with pytest.raises(NeverViolated):
        never(lambda: state["arrived"], during=4, policy=SLOW_POLLING, feed=feed)
    assert time.monotonic() - state["at"] < 0.3


def test_without_changes_a_live_feed_checks_rarely():
    feed, calls = _FakeFeed(), []
    never(lambda: calls.append(1), during=1.0, policy=SLOW_POLLING, feed=feed)
    assert len(calls) <= 10  # backoff 5, 10, 20 ... ms up to 5 s, plus the last look


async def test_async_twin_passes_and_fails_the_same_way():
    assert await never_async(lambda: None, during=0.2, feed=None) >= 2

    async def seen():
        return {"id": "evt-1"}

    with pytest.raises(NeverViolated, match=r"\{'id': 'evt-1'\}"):
        await never_async(seen, during=1, feed=None)


async def test_async_twin_is_woken_by_a_change():
    feed = _FakeFeed()
    state = _arriving(feed, 0.7)
    with pytest.raises(NeverViolated):
        await never_async(lambda: state["arrived"], during=4, policy=SLOW_POLLING, feed=feed)
    assert time.monotonic() - state["at"] < 0.3
