"""Concurrency checks: fire many events at once (asyncio, bounded), follow each to its outcome.

    report = await fire(events, send=client.post_api_async, observe=count_items, concurrency=20)
    report.assert_none_lost_or_duplicated()
    print(report.summary())     # 200 sent, 200 delivered, 0 lost, 0 duplicated; p50 ... p99 ...

``send(event)`` sends one event and returns a key to follow it by (sync functions run in worker
threads); ``observe(key)`` returns how many effects that key has produced so far (0 while not yet
delivered). An event counts as delivered when its first effect is seen; its latency is the time
from just before ``send`` to then. After every event is delivered or timed out, each is observed
once more: more than one effect is a duplicate.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

from harness.waits import EventuallyTimeout, Policy, eventually_async

FOLLOW_POLICY = Policy(timeout=60.0, initial=0.02, cap=0.25)


@dataclass
class Outcome:
    event: Any
    key: Any = None
    latency: float | None = None
    effects: int = 0
    error: str | None = None


@dataclass
class ConcurrencyReport:
    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def delivered(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.effects >= 1]

    @property
    def lost(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.effects == 0]

    @property
    def duplicated(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.effects > 1]

    def percentile_ms(self, p: float) -> float:
        values = sorted(o.latency * 1000 for o in self.outcomes if o.latency is not None)
        if not values:
            return float("nan")
        k = (len(values) - 1) * p / 100
        lo, hi = int(k), min(int(k) + 1, len(values) - 1)
        return values[lo] + (values[hi] - values[lo]) * (k - lo)

    def summary(self) -> str:
        return (f"{len(self.outcomes)} sent, {len(self.delivered)} delivered, {len(self.lost)} "
                f"lost, {len(self.duplicated)} duplicated in {self.wall_seconds:.1f} s; latency "
                f"p50 {self.percentile_ms(50):.0f} ms, p95 {self.percentile_ms(95):.0f} ms, "
                f"p99 {self.percentile_ms(99):.0f} ms")

    def assert_none_lost_or_duplicated(self) -> None:
        problems = [f"lost: {o.key!r} ({o.error or 'no effect seen'})" for o in self.lost[:10]]
        problems += [f"duplicated: {o.key!r} has {o.effects} effects" for o in self.duplicated[:10]]
        assert not problems, self.summary() + "\n" + "\n".join(problems)


async def _call(fn: Callable, *args: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await asyncio.to_thread(fn, *args)
    return await result if inspect.isawaitable(result) else result


async def fire(events: Iterable[Any], send: Callable[[Any], Any | Awaitable[Any]],
               observe: Callable[[Any], int | Awaitable[int]], *, concurrency: int = 10,
               timeout: float = 60.0) -> ConcurrencyReport:
    """Send every event (at most ``concurrency`` in flight), follow each until delivered."""
    limit = asyncio.Semaphore(concurrency)
    report = ConcurrencyReport([Outcome(e) for e in events])

    async def one(outcome: Outcome) -> None:
        async with limit:
            started = time.monotonic()
            try:
                outcome.key = await _call(send, outcome.event)
            except Exception as exc:  # a failed send is a lost event, not a crash of the check
                outcome.error = f"send failed: {type(exc).__name__}: {exc}"
                return
        async def delivered() -> int:
            return await _call(observe, outcome.key)

        try:
            await eventually_async(delivered, timeout, policy=FOLLOW_POLICY,
                                   description=f"effect of {outcome.key!r}")
            outcome.latency = time.monotonic() - started
        except EventuallyTimeout as exc:
            outcome.error = str(exc).splitlines()[0]

    started = time.monotonic()
    await asyncio.gather(*(one(o) for o in report.outcomes))
    report.wall_seconds = time.monotonic() - started
    for outcome in report.outcomes:  # the final count catches duplicates that came late
        if outcome.key is not None:
            outcome.effects = int(await _call(observe, outcome.key))
    return report
