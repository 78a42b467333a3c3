"""Wake an event source mapping's poller as soon as something appears in its source.

Why: LocalStack's event-source worker polls its source, then sleeps (``_shutdown_event.wait``)
for the poll interval or, after an empty poll, the empty-poll backoff. A message sent to an idle
queue, or a record written to an idle table's stream, waits for the end of that sleep: half an
interval on average, plus the poll itself. AWS's pollers long-poll and see it at once.

How: a worker's sleep is an event that a wake ends early (:class:`WakeableEvent`); workers are
registered by their source ARN while they run. A wake that comes while the worker is busy
polling is kept, so the next sleep returns at once and nothing is missed. Polling stays as it
was, as the fallback. Idle, nothing extra runs: a wake happens only when something is put.
What wakes them:

- SQS: every way a message becomes visible goes through the queue's ``_put_message``
  (``SendMessage``/``SendMessageBatch`` from clients and functions, LocalStack's internal SNS → SQS
  and S3 → SQS deliveries, a dead-letter move, a delayed message coming due, a visibility timeout
  running out or set to 0), except a FIFO message group that becomes visible again once its
  in-flight messages are deleted (``update_message_group_visibility``): both wake.
- DynamoDB Streams (our DynamoDB is moto, :mod:`.dynamodb`): every stream record is appended by
  moto's ``StreamShard.add`` (PutItem, UpdateItem, DeleteItem, batch writes, transactions), which
  wakes the mappings of that stream. LocalStack's stream poller never counts a ``GetRecords``
  without records as an empty poll (it re-polls every poll interval, 20 times a second with our
  0.05 s, forever); with the push in place it does, so an idle stream mapping sleeps the empty-poll
  backoff like an idle queue.

``LSH_ESM_PUSH=0`` turns all of it off (LocalStack's polling only).
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict

#: source ARN (queue, stream) -> the sleep events of the workers polling it
_SLEEPERS: dict[str, set["WakeableEvent"]] = defaultdict(set)
_SLEEPERS_LOCK = threading.Lock()
#: a woken poller polls no sooner than this after its previous poll (``LSH_ESM_PUSH_MIN_GAP_S``)
MIN_GAP_S = float(os.environ.get("LSH_ESM_PUSH_MIN_GAP_S", "0.02"))
DYNAMODB_POLLER = "localstack.services.lambda_.event_source_mapping.pollers.dynamodb_poller"
MOTO_TABLE = "moto.dynamodb.models.table"


class WakeableEvent:
    """A ``threading.Event`` (the worker's shutdown flag) whose ``wait`` a :meth:`wake` also ends.

    ``is_set``/``set``/``clear`` mean what they mean on ``threading.Event``; ``wait`` returns the
    flag, as ``Event.wait`` does, so the worker loop's shutdown check is unchanged. A wake ends a
    wait no sooner than ``min_gap`` seconds after the previous wait ended (the previous poll):
    on an idle source that is at once, under a burst of writes it keeps the poller from polling
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


def wake(source_arn: str) -> None:
    """Wake every worker polling ``source_arn`` (cheap, never blocks for long)."""
    sleepers = _SLEEPERS.get(source_arn)
    if sleepers:
        for event in list(sleepers):
            event.wake()


def _waking(original, source_arn_of):
    """``original`` (a method), then a wake of ``source_arn_of(self, result, *args)``'s workers;
    a failing wake never breaks the write."""

    def method(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        try:
            arn = source_arn_of(self, *args)
            if arn:
                wake(arn)
        except Exception:
            pass
        return result

    method.__wrapped__ = original
    return method


def wakeable_workers() -> None:
    """Each event-source worker sleeps on a :class:`WakeableEvent`, registered by its source ARN
    while its loop runs (any poller with a ``source_arn``: one that nothing wakes just polls)."""
    from localstack.services.lambda_.event_source_mapping import esm_worker

    worker_class = esm_worker.EsmWorker
    original_init = worker_class.__init__
    original_loop = worker_class.poller_loop

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._shutdown_event = WakeableEvent(MIN_GAP_S)

    def poller_loop(self, *args, **kwargs):
        event = self._shutdown_event
        arn = getattr(self.poller, "source_arn", None)
        if not arn or not isinstance(event, WakeableEvent):
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

    worker_class.__init__ = __init__
    worker_class.poller_loop = poller_loop


def push_sqs_event_sources() -> None:
    from localstack.services.sqs import models

    for queue_class in (models.StandardQueue, models.FifoQueue):
        queue_class._put_message = _waking(queue_class._put_message, lambda queue, _m: queue.arn)

    fifo = models.FifoQueue
    update_visibility = fifo.update_message_group_visibility

    def update_message_group_visibility(self, message_group):
        """A FIFO group whose in-flight messages are gone becomes visible without a put: wake."""
        with self.mutex:
            was_in_flight = message_group in self.inflight_groups
            update_visibility(self, message_group)
            now_visible = (was_in_flight and message_group not in self.inflight_groups
                           and not message_group.empty())
        if now_visible:
            wake(self.arn)

    fifo.update_message_group_visibility = update_message_group_visibility


def push_dynamodb_streams() -> None:
    """Wake a stream's mappings on each record moto appends to it."""
    from moto.dynamodb.models.table import StreamShard

    def stream_arn(shard, *_):
        table = shard.table
        return f"{table.table_arn}/stream/{table.latest_stream_label}"

    StreamShard.add = _waking(StreamShard.add, stream_arn)


def count_empty_stream_polls() -> None:
    """A DynamoDB stream poll that got no record (from any shard, nothing waiting in a batching
    window) is an empty poll, so the worker sleeps the empty-poll backoff, as for a queue.

    LocalStack's ``StreamPoller`` returns normally after an empty ``GetRecords`` ("an iterator may
    have to move multiple times until records are returned", true of Kinesis, not of moto), so
    its worker re-polls every poll interval. Only with the push on: without it, the backoff
    would delay the first record after a quiet spell.
    """
    from localstack.services.lambda_.event_source_mapping.pollers.dynamodb_poller import (
        DynamoDBPoller,
    )
    from localstack.services.lambda_.event_source_mapping.pollers.poller import (
        EmptyPollResultsException,
    )

    original_get_records = DynamoDBPoller.get_records
    original_poll_events = DynamoDBPoller.poll_events

    def get_records(self, shard_iterator):
        response = original_get_records(self, shard_iterator)
        if response.get("Records"):
            self.lsh_got_records = True
        return response

    def poll_events(self):
        self.lsh_got_records = False
        original_poll_events(self)  # raises EmptyPollResultsException itself without shards
        if self.lsh_got_records or any(b.get_current_size() for b in self.shard_batcher.values()):
            self.lsh_empty_polls = 0
            return
        self.lsh_empty_polls = getattr(self, "lsh_empty_polls", 0) + 1
        if self.lsh_empty_polls >= max(1, len(self.shards)):  # a round over every shard
            self.lsh_empty_polls = 0
            raise EmptyPollResultsException(service=self.event_source(), source_arn=self.source_arn)

    DynamoDBPoller.get_records = get_records
    DynamoDBPoller.poll_events = poll_events


def apply() -> None:
    if os.environ.get("LSH_ESM_PUSH", "1") == "0":
        return
    from lsh_localstack_plugins.after_import import after_import
    from lsh_localstack_plugins import patches

    if patches.late_esm_patches():
        # the worker loads with the Lambda provider, SQS's models with SQS
        after_import({patches.ESM_WORKER: wakeable_workers,
                      "localstack.services.sqs.models": push_sqs_event_sources})
    else:
        wakeable_workers()
        push_sqs_event_sources()
    # moto and the stream poller load only when a table or a stream mapping is first used
    after_import({MOTO_TABLE: push_dynamodb_streams, DYNAMODB_POLLER: count_empty_stream_polls})
