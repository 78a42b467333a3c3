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
import time
from collections import defaultdict

#: queue ARN -> the sleep events of the workers polling it
_SLEEPERS: dict[str, set["WakeableEvent"]] = defaultdict(set)
_SLEEPERS_LOCK = threading.Lock()
#: a woken poller receives no sooner than this after its previous receive (``LSH_ESM_PUSH_MIN_GAP_S``)
MIN_GAP_S = float(os.environ.get("LSH_ESM_PUSH_MIN_GAP_S", "0.02"))


class WakeableEvent:
    """A ``threading.Event`` (the worker's shutdown flag) whose ``wait`` a :meth:`wake` also ends.

    ``is_set``/``set``/``clear`` mean what they mean on ``threading.Event``; ``wait`` returns the
    flag, as ``Event.wait`` does, so the worker loop's shutdown check is unchanged. A wake ends a
    wait no sooner than ``min_gap`` seconds after the previous wait ended (the previous poll):
    on an idle queue that is at once, under a burst of sends it keeps the poller from receiving
    once per message (many one-message batches cost LocalStack more CPU per event).
    """

    def __init__(self, min_gap: float = 0.0) -> None:
        self._cond = threading.Condition()
        self._flag = False
        self._woken = False
        self._polled_at = 0.0
        self.min_gap = min_gap
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
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._flag:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                until = deadline
                if self._woken:
                    earliest = self._polled_at + self.min_gap
                    if now >= earliest:
                        self._woken = False
                        self.wakes += 1
                        break
                    until = earliest if deadline is None else min(deadline, earliest)
                self._cond.wait(None if until is None else until - now)
            self._polled_at = time.monotonic()
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
        self._shutdown_event = WakeableEvent(MIN_GAP_S)

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
