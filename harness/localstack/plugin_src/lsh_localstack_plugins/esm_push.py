"""Wake an SQS event source mapping's poller as soon as a message becomes visible on its queue.

Why: LocalStack's event-source worker polls its queue, then sleeps (``_shutdown_event.wait``)
for the poll interval or, after an empty poll, the empty-poll backoff. A message sent to an idle
queue waits for the end of that sleep: half an interval on average, plus the poll itself (~60 ms
p50 from send to handler with our 0.05 s / 0.1 s settings). AWS's pollers long-poll and see a
message at once.

How: every way a message becomes visible on a LocalStack queue goes through the queue's
``_put_message`` (``SendMessage``/``SendMessageBatch`` from clients and functions, LocalStack's
internal SNS → SQS and S3 → SQS deliveries, a dead-letter move, a delayed message coming due, a
visibility timeout running out or set to 0). That method, after it has put the message, wakes
the workers that poll that queue (by queue ARN). A worker's sleep is an event that a wake ends
early; a wake that comes while the worker is busy polling is kept, so the next sleep returns at
once and nothing is missed. Polling stays as it was, as the fallback (and for anything that does
not go through ``_put_message``). Idle, nothing extra runs: a wake happens only on a put.

``LSH_ESM_PUSH=0`` turns it off (LocalStack's polling only).
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict

#: queue ARN -> the sleep events of the workers polling it
_SLEEPERS: dict[str, set["WakeableEvent"]] = defaultdict(set)
_SLEEPERS_LOCK = threading.Lock()


class WakeableEvent:
    """A ``threading.Event`` (the worker's shutdown flag) whose ``wait`` a :meth:`wake` also ends.

    ``is_set``/``set``/``clear`` mean what they mean on ``threading.Event``; ``wait`` returns the
    flag, as ``Event.wait`` does, so the worker loop's shutdown check is unchanged.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._flag = False
        self._woken = False
        #: how many waits a wake ended early (for tests and benchmarks)
        self.wakes = 0

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with self._cond:
            self._flag = True
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._flag = False

    def wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            if not self._flag and not self._woken:
                self._cond.wait(timeout)
            if self._woken:
                self._woken = False
                self.wakes += 1
            return self._flag


def wake(queue_arn: str) -> None:
    """Wake every worker polling ``queue_arn`` (cheap, never blocks for long, never raises)."""
    sleepers = _SLEEPERS.get(queue_arn)
    if sleepers:
        for event in list(sleepers):
            event.wake()


def push_sqs_event_sources() -> None:
    from localstack.services.lambda_.event_source_mapping import esm_worker
    from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import SqsPoller
    from localstack.services.sqs import models

    worker_class = esm_worker.EsmWorker
    original_init = worker_class.__init__
    original_loop = worker_class.poller_loop

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._shutdown_event = WakeableEvent()

    def poller_loop(self, *args, **kwargs):
        event = self._shutdown_event
        arn = getattr(self.poller, "source_arn", None) if isinstance(self.poller, SqsPoller) else None
        if arn is None or not isinstance(event, WakeableEvent):
            return original_loop(self, *args, **kwargs)
        with _SLEEPERS_LOCK:
            _SLEEPERS[arn].add(event)
        try:
            return original_loop(self, *args, **kwargs)
        finally:
            with _SLEEPERS_LOCK:
                _SLEEPERS[arn].discard(event)
                if not _SLEEPERS[arn]:
                    del _SLEEPERS[arn]

    def waking(original):
        def _put_message(self, message):
            result = original(self, message)
            try:
                wake(self.arn)
            except Exception:  # never let the wake break a send
                pass
            return result

        return _put_message

    for queue_class in (models.StandardQueue, models.FifoQueue):
        queue_class._put_message = waking(queue_class._put_message)
    worker_class.__init__ = __init__
    worker_class.poller_loop = poller_loop


def apply() -> None:
    if os.environ.get("LSH_ESM_PUSH", "1") != "0":
        push_sqs_event_sources()
