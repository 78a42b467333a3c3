"""Which LocalStacks the harness is using now, so a waiting check can tell when one died.

The pytest plugin registers the session's LocalStack (:func:`watching`); :func:`check`, called
by :func:`harness.waits.eventually` before each attempt, raises
:class:`~harness.errors.LocalStackDied` at once instead of letting the wait run to its deadline.
Calls through ``LocalStack.client()``/``resource()`` check on their own (before every attempt).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from harness.localstack.base import LocalStack

_watched: list["LocalStack"] = []


@contextlib.contextmanager
def watching(localstack: "LocalStack") -> Iterator["LocalStack"]:
    _watched.append(localstack)
    try:
        yield localstack
    finally:
        _watched.remove(localstack)


def check() -> None:
    """Raise :class:`~harness.errors.LocalStackDied` if a watched LocalStack has exited."""
    for localstack in list(_watched):
        localstack.check_alive()
