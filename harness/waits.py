"""Eventual assertions: retry a check until it holds, with backoff and a deadline.

``check`` is a callable that either returns a value (truthy means done) or raises
``AssertionError`` (not yet). On timeout :class:`EventuallyTimeout` says what was checked, how
many attempts were made and what the last attempt saw.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from tenacity import (RetryError, Retrying, retry_if_exception_type, retry_if_result,
                      stop_after_delay, wait_exponential_jitter)

from harness.errors import HarnessError

T = TypeVar("T")


class EventuallyTimeout(HarnessError, AssertionError):
    def __init__(self, description: str, timeout: float, attempts: int, last: str):
        self.description, self.timeout, self.attempts, self.last = description, timeout, attempts, last
        super().__init__(f"{description}: still not true after {timeout:g} s and {attempts} "
                         f"attempts; last attempt: {last}")


def eventually(check: Callable[[], T], timeout: float = 10.0, *, initial_wait: float = 0.01,
               max_wait: float = 0.25, description: str | None = None) -> T:
    """Retry ``check`` until it returns a truthy value; return that value."""
    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_exponential_jitter(multiplier=initial_wait, max=max_wait, jitter=initial_wait),
        retry=retry_if_exception_type(AssertionError) | retry_if_result(lambda value: not value),
    )
    try:
        return retrying(check)
    except RetryError as exc:
        last = exc.last_attempt
        failure = last.exception()
        seen = f"{type(failure).__name__}: {failure}" if failure else f"returned {last.result()!r}"
        raise EventuallyTimeout(description or getattr(check, "__name__", repr(check)), timeout,
                                last.attempt_number, seen) from failure
