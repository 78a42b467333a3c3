"""Eventual assertions: retry a check until it holds, with backoff, jitter, a cap and a deadline.

A *check* is a callable that returns a value (truthy: done) or raises ``AssertionError`` (not
yet). Any other exception is a bug in the check and propagates at once. On timeout,
:class:`EventuallyTimeout` says what was checked, how many attempts were made, what the last one
saw, and (when a ``diagnose`` callable is given) where things got stuck.

The policy is a small value (:class:`Policy`); :func:`eventually` and its asyncio twin
:func:`eventually_async` take one. Built on tenacity.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, TypeVar

from tenacity import (AsyncRetrying, RetryError, Retrying, retry_if_exception_type,
                      retry_if_result, stop_after_delay, wait_exponential_jitter)

from harness.errors import HarnessError

T = TypeVar("T")


@dataclass(frozen=True)
class Policy:
    """How to retry: exponential backoff from ``initial`` to ``cap`` seconds, plus up to
    ``jitter`` seconds of random jitter, until ``timeout`` seconds have passed.

    The default polls fast at first (most async effects land within tens of ms here) and settles
    at a cap that keeps a waiting check under ~20 requests per second.
    """

    timeout: float = 10.0
    initial: float = 0.005
    cap: float = 0.045
    jitter: float = 0.005

    def with_timeout(self, timeout: float | None) -> "Policy":
        return self if timeout is None else replace(self, timeout=timeout)

    def tenacity_kwargs(self) -> dict[str, Any]:
        return dict(
            stop=stop_after_delay(self.timeout),
            wait=wait_exponential_jitter(multiplier=self.initial, max=self.cap, jitter=self.jitter),
            retry=retry_if_exception_type(AssertionError) | retry_if_result(_not_done),
        )


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
               diagnose: Callable[[], str] | None = None) -> T:
    """Retry ``check`` until it returns a truthy value; return that value."""
    policy = policy.with_timeout(timeout)
    try:
        return Retrying(**policy.tenacity_kwargs())(check)
    except RetryError as exc:
        raise _timeout_error(exc, check, policy, description, diagnose) from exc.last_attempt.exception()


async def eventually_async(check: Callable[[], T | Awaitable[T]], timeout: float | None = None, *,
                           policy: Policy = DEFAULT_POLICY, description: str | None = None,
                           diagnose: Callable[[], str] | None = None) -> T:
    """The asyncio twin of :func:`eventually`: ``check`` may be a coroutine function, or a plain
    function (run in a worker thread, so blocking boto3 calls do not stall the event loop)."""
    policy = policy.with_timeout(timeout)

    async def attempt() -> T:
        if inspect.iscoroutinefunction(check):
            return await check()
        result = await asyncio.to_thread(check)
        return await result if inspect.isawaitable(result) else result

    try:
        return await AsyncRetrying(**policy.tenacity_kwargs())(attempt)
    except RetryError as exc:
        raise _timeout_error(exc, check, policy, description, diagnose) from exc.last_attempt.exception()
