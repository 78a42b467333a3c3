"""Let moto's DynamoDB Streams shard iterators expire, as AWS's do after 15 minutes.

Why: moto keeps every shard iterator it hands out in a dict that nothing prunes, and each
``GetRecords`` hands out a new one (``NextShardIterator``): LocalStack's memory grew with every
stream poll (+4.2 MB/min with 3 idle stream mappings polled every 0.05 s; +0.4 MB/min with the
push of :mod:`.esm_push`). On AWS a shard iterator expires 15 minutes after it is returned.

How: each backend's iterators live in a :class:`ShardIteratorStore`, which drops an iterator
``LSH_DDB_STREAM_ITERATOR_TTL_S`` (900) seconds after it was handed out and keeps at most
``LSH_DDB_STREAM_ITERATORS_PER_SHARD`` (1000) per shard, the newest (a consumer follows the
newest ``NextShardIterator``; 1000 is far more than the consumers of one shard). ``GetRecords``
with an iterator that is no longer there answers ``ExpiredIteratorException`` (moto: an internal
error), which LocalStack's stream poller answers by asking for new iterators, as on AWS.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any, Callable

TTL_S = float(os.environ.get("LSH_DDB_STREAM_ITERATOR_TTL_S", "900"))
PER_SHARD = int(os.environ.get("LSH_DDB_STREAM_ITERATORS_PER_SHARD", "1000"))


class ShardIteratorStore(dict):
    """moto's ``shard_iterators`` dict (iterator ARN -> ``ShardIterator``), bounded.

    Iterators are kept in the order they were handed out; each ``store[arn] = iterator`` first
    drops the ones older than ``ttl`` seconds, then the oldest of the iterator's shard beyond
    ``per_shard``. A lookup of an expired iterator not yet dropped fails as a missing one does.
    """

    def __init__(self, ttl: float = TTL_S, per_shard: int = PER_SHARD,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.ttl = ttl
        self.per_shard = max(1, per_shard)
        self.clock = clock
        self._born: dict[str, float] = {}
        self._by_shard: dict[int, deque[str]] = {}
        self._lock = threading.Lock()

    def __setitem__(self, arn: str, iterator: Any) -> None:
        with self._lock:
            now = self.clock()
            self._drop_expired(now)
            shard = id(getattr(iterator, "stream_shard", None))
            if arn in self:
                self._forget(arn)
            dict.__setitem__(self, arn, iterator)
            self._born[arn] = now
            self._by_shard.setdefault(shard, deque()).append(arn)
            arns = self._by_shard[shard]
            while len(arns) > self.per_shard:
                self._forget(arns[0])

    def __getitem__(self, arn: str) -> Any:
        born = self._born.get(arn)
        if born is None or self.clock() - born >= self.ttl:
            raise KeyError(arn)
        return dict.__getitem__(self, arn)

    def _drop_expired(self, now: float) -> None:
        cutoff = now - self.ttl
        while self._born:
            arn = next(iter(self._born))  # the oldest (dicts keep insertion order)
            if self._born[arn] > cutoff:
                break
            self._forget(arn)

    def _forget(self, arn: str) -> None:
        iterator = dict.pop(self, arn, None)
        self._born.pop(arn, None)
        shard = id(getattr(iterator, "stream_shard", None))
        arns = self._by_shard.get(shard)
        if arns is not None:
            try:
                arns.remove(arn)  # the head, but for a re-stored ARN
            except ValueError:
                pass
            if not arns:
                del self._by_shard[shard]


def bound_shard_iterators() -> None:
    """Give every moto DynamoDB Streams backend a :class:`ShardIteratorStore` (idempotent)."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, dynamodbstreams_backends

    backend_class = DynamoDBStreamsBackend
    if getattr(backend_class, "lsh_bounded_iterators", False):
        return
    original_init = backend_class.__init__
    original_get_records = backend_class.get_records

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.shard_iterators = ShardIteratorStore()

    def get_records(self, iterator_arn: str, limit: int) -> dict[str, Any]:
        try:
            self.shard_iterators[iterator_arn]
        except KeyError:
            raise JsonRESTError("ExpiredIteratorException",
                                "Iterator expired. The iterator was created more than 15 "
                                "minutes ago or is no longer valid: get a new one with "
                                "GetShardIterator.") from None
        return original_get_records(self, iterator_arn, limit)

    backend_class.__init__ = __init__
    backend_class.get_records = get_records
    backend_class.lsh_bounded_iterators = True
    for account in list(dynamodbstreams_backends.values()):  # backends made before the patch
        for backend in list(account.values()):
            if not isinstance(backend.shard_iterators, ShardIteratorStore):
                store = ShardIteratorStore()
                for arn, iterator in list(backend.shard_iterators.items()):
                    store[arn] = iterator
                backend.shard_iterators = store
