"""Eventual assertions: retry a check until it holds, with backoff, jitter, a cap and a deadline.

A *check* is a callable that returns a value (truthy: done) or raises ``AssertionError`` (not
yet). Any other exception is a bug in the check and propagates at once. On timeout,
:class:`EventuallyTimeout` says what was checked, how many attempts were made, what the last one
saw, and (when a ``diagnose`` callable is given) where things got stuck.

The policy is a small value (:class:`Policy`); :func:`eventually` and its asyncio twin
:func:`eventually_async` take one. Built on tenacity.

:func:`never` (and :func:`never_async`) is the other half: a check that must *not* hold during a
window ("this event did not reach that queue"), re-checked on the same schedule and wake-ups until
the window ends, last at its very end. On failure, :class:`NeverViolated` says what was seen and
when.

With a live change feed (:mod:`harness.changes`; the pytest plugin opens one on the harness's
LocalStack), a check does not have to poll fast: between attempts it waits for the polling
delay *or* for LocalStack to report a change, whichever comes first, so it sees an effect a few
milliseconds after it lands while its backoff grows to ``feed_interval`` seconds otherwise. A
token bucket keeps a check woken by a busy LocalStack under ``max_rate`` attempts per second.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, TypeVar

from tenacity import (AsyncRetrying, RetryError, Retrying, retry_if_exception_type,
                      retry_if_result, stop_after_delay, wait_exponential_jitter)

from harness import changes
from harness.changes import ChangeFeed
from harness.errors import HarnessError
from harness.localstack import liveness

T = TypeVar("T")


@dataclass(frozen=True)
class Policy:
    """How to retry: exponential backoff from ``initial`` to ``cap`` seconds, plus up to
    ``jitter`` seconds of random jitter, until ``timeout`` seconds have passed.

    Without a change feed the default polls fast at first (most async effects land within tens
    of ms here) and settles at ``cap``, about 20 attempts per second. With a live feed a change
    in LocalStack ends the wait at once, so polling only has to catch what the feed cannot see
    (timers such as visibility timeouts, systems other than LocalStack): the same backoff then
    goes on up to ``feed_interval`` (never less than ``cap``) instead of ``cap``, and
    ``max_rate`` bounds its attempts per second however busy LocalStack is (a token bucket
    holding ``burst`` attempts).
    """

    timeout: float = 10.0
    initial: float = 0.005
    cap: float = 0.045
    jitter: float = 0.005
    feed_interval: float = 0.1
    max_rate: float = 15.0
    burst: int = 5

    def with_timeout(self, timeout: float | None) -> "Policy":
        return self if timeout is None else replace(self, timeout=timeout)

    def tenacity_kwargs(self, feed: ChangeFeed | None = None) -> dict[str, Any]:
        polling = wait_exponential_jitter(multiplier=self.initial, max=self.cap, jitter=self.jitter)
        kwargs: dict[str, Any] = dict(
            stop=stop_after_delay(self.timeout),
            wait=polling,
            retry=retry_if_exception_type(AssertionError) | retry_if_result(_not_done),
        )
        if feed is not None:
            woken = wait_exponential_jitter(multiplier=self.initial,
                                            max=max(self.cap, self.feed_interval),
                                            jitter=self.jitter)
            kwargs["wait"] = lambda state: (woken if feed.live else polling)(state)
        return kwargs


DEFAULT_POLICY = Policy()


def _not_done(value: object) -> bool:
    return not value


class EventuallyTimeout(HarnessError, AssertionError):
    """A check did not hold before its deadline."""

    def __init__(self, description: str, timeout: float, attempts: int, last: str,
                 diagnosis: str | None = None):
        self.description, self.timeout, self.attempts, self.last = description, timeout, attempts, last
        self.diagnosis = diagnosis
        text = (f"{description}: still not true after {timeout:g} s and {attempts} attempts; "
                f"last attempt: {last}")
        if diagnosis:
            text += f"\n{diagnosis}"
        super().__init__(text)


class _Pacer:
    """tenacity's ``before`` and ``sleep``: no wait runs past the deadline (the last attempt is
    made at it), and with a change feed a wait ends early on a change.

    With a feed, ``before`` notes the feed's version as an attempt starts; ``sleep`` then ends
    when the version moves past it (a change the attempt may have missed) and holds the next
    attempt back until the token bucket has a token (at most ``max_rate`` per second).
    """

    def __init__(self, feed: ChangeFeed | None, policy: Policy):
        self.feed, self.rate = feed, policy.max_rate
        self.capacity = float(max(1, policy.burst))
        self.tokens, self.stamp = self.capacity, time.monotonic()
        self.deadline = self.stamp + policy.timeout
        self.mark = feed.version if feed is not None else 0

    def before(self, _state: Any) -> None:
        liveness.check()  # a dead LocalStack ends the wait at once, saying how and when it died
        if self.feed is not None:
            self._refill()
            self.tokens -= 1
            self.mark = self.feed.version

    def past_deadline(self, _state: Any) -> bool:
        """tenacity's ``stop``: the attempt just made was at (or after) the deadline."""
        return time.monotonic() >= self.deadline

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def _token_gap(self) -> float:
        """Seconds until the bucket holds a whole token (0 without a feed)."""
        if self.feed is None or self.rate <= 0:
            return 0.0
        self._refill()
        return 0.0 if self.tokens >= 1 else self._clip((1 - self.tokens) / self.rate)

    def _clip(self, seconds: float) -> float:
        return max(0.0, min(seconds, self.deadline - time.monotonic()))

    def sleep(self, seconds: float) -> None:
        if self.feed is None:
            time.sleep(self._clip(seconds))
            return
        self.feed.wait_for_change(self.mark, self._clip(seconds))
        gap = self._token_gap()
        if gap:
            time.sleep(gap)

    async def sleep_async(self, seconds: float) -> None:
        if self.feed is None:
            await asyncio.sleep(self._clip(seconds))
            return
        await self.feed.wait_for_change_async(self.mark, self._clip(seconds))
        gap = self._token_gap()
        if gap:
            await asyncio.sleep(gap)


_ACTIVE = object()  # eventually(feed=...) default: the active feed, if any


def _pick_feed(feed: Any) -> ChangeFeed | None:
    return changes.active() if feed is _ACTIVE else feed


def _retrying_kwargs(policy: Policy, feed: ChangeFeed | None, asynchronous: bool) -> dict:
    kwargs = policy.tenacity_kwargs(feed)
    pacer = _Pacer(feed, policy)
    # stop at the pacer's own deadline (it starts first): once the waits are clipped to nothing,
    # tenacity's later deadline would otherwise let attempts spin with no pause in between
    kwargs["stop"] = pacer.past_deadline
    kwargs["before"] = pacer.before
    kwargs["sleep"] = pacer.sleep_async if asynchronous else pacer.sleep
    return kwargs


def _describe(check: Callable, description: str | None) -> str:
    return description or getattr(check, "__name__", None) or repr(check)


def _timeout_error(exc: RetryError, check: Callable, policy: Policy, description: str | None,
                   diagnose: Callable[[], str] | None) -> EventuallyTimeout:
    last = exc.last_attempt
    failure = last.exception()
    seen = f"{type(failure).__name__}: {failure}" if failure else f"returned {last.result()!r}"
    diagnosis = None
    if diagnose is not None:
        try:
            diagnosis = diagnose()
        except Exception as diag_exc:  # a broken diagnosis must not hide the timeout
            diagnosis = f"(diagnosis failed: {type(diag_exc).__name__}: {diag_exc})"
    return EventuallyTimeout(_describe(check, description), policy.timeout, last.attempt_number,
                             seen, diagnosis)


def eventually(check: Callable[[], T], timeout: float | None = None, *,
               policy: Policy = DEFAULT_POLICY, description: str | None = None,
               diagnose: Callable[[], str] | None = None, feed: Any = _ACTIVE) -> T:
    """Retry ``check`` until it returns a truthy value; return that value.

    ``feed``: the :class:`~harness.changes.ChangeFeed` that wakes the check (default: the active
    one, see :func:`harness.changes.activate`; ``None``: poll only).
    """
    policy = policy.with_timeout(timeout)
    try:
        return Retrying(**_retrying_kwargs(policy, _pick_feed(feed), asynchronous=False))(check)
    except RetryError as exc:
        raise _timeout_error(exc, check, policy, description, diagnose) from exc.last_attempt.exception()


async def eventually_async(check: Callable[[], T | Awaitable[T]], timeout: float | None = None, *,
                           policy: Policy = DEFAULT_POLICY, description: str | None = None,
                           diagnose: Callable[[], str] | None = None, feed: Any = _ACTIVE) -> T:
    """The asyncio twin of :func:`eventually`: ``check`` may be a coroutine function, or a plain
    function (run in a worker thread, so blocking boto3 calls do not stall the event loop)."""
    policy = policy.with_timeout(timeout)
    try:
        return await AsyncRetrying(**_retrying_kwargs(policy, _pick_feed(feed),
                                                      asynchronous=True))(_in_thread(check))
    except RetryError as exc:
        raise _timeout_error(exc, check, policy, description,
                             diagnose) from exc.last_attempt.exception()


def _in_thread(check: Callable[[], T | Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """``check`` as a coroutine function: awaited if it is one, else run in a worker thread."""
    async def attempt() -> T:
        if inspect.iscoroutinefunction(check):
            return await check()
        result = await asyncio.to_thread(check)
        return await result if inspect.isawaitable(result) else result

    return attempt


class NeverViolated(HarnessError, AssertionError):
    """A check that had to stay false held during its window."""

    def __init__(self, description: str, during: float, at: float, attempt: int, seen: object):
        self.description, self.during, self.at, self.attempt, self.seen = (
            description, during, at, attempt, seen)
        super().__init__(f"{description}: happened {at:.3f} s into its {during:g} s window "
                         f"(check {attempt}); it saw {seen!r}")


class _Watch:
    """Counts a never-check's attempts and times the one that held."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.attempts = 0

    def count(self, _state: Any) -> None:
        self.attempts += 1

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _never_kwargs(policy: Policy, feed: ChangeFeed | None, asynchronous: bool,
                  watch: _Watch) -> dict:
    kwargs = _retrying_kwargs(policy, feed, asynchronous)
    pace = kwargs["before"]
    kwargs["before"] = lambda state: (watch.count(state), pace(state))
    return kwargs


def never(check: Callable[[], Any], during: float, *, policy: Policy = DEFAULT_POLICY,
          description: str | None = None, feed: Any = _ACTIVE) -> int:
    """Re-run ``check`` for ``during`` seconds; it must never hold (return a truthy value without
    raising ``AssertionError``). Return how many times it was checked.

    The schedule is :func:`eventually`'s (``policy`` without its timeout): woken by every change
    the feed reports, polling otherwise, and checked once more at the end of the window.
    Raise :class:`NeverViolated` (what the check returned, how far into the window, which
    attempt) the first time it holds; other exceptions propagate at once.
    """
    policy, watch = policy.with_timeout(during), _Watch()
    try:
        seen = Retrying(**_never_kwargs(policy, _pick_feed(feed), False, watch))(check)
    except RetryError:
        return watch.attempts
    raise NeverViolated(_describe(check, description), during, watch.elapsed(), watch.attempts,
                        seen)


async def never_async(check: Callable[[], Any], during: float, *,
                      policy: Policy = DEFAULT_POLICY, description: str | None = None,
                      feed: Any = _ACTIVE) -> int:
    """The asyncio twin of :func:`never` (``check`` as for :func:`eventually_async`)."""
    policy, watch = policy.with_timeout(during), _Watch()
    try:
        seen = await AsyncRetrying(**_never_kwargs(policy, _pick_feed(feed), True, watch))(
            _in_thread(check))
    except RetryError:
        return watch.attempts
    raise NeverViolated(_describe(check, description), during, watch.elapsed(), watch.attempts,
                        seen)
