"""Serve moto's DynamoDB requests one at a time per backend (account and region).

Why: moto checks a write's condition and then writes, with no lock (``put_item``: read the
item, evaluate ``ConditionExpression``, store; ``update_item`` likewise, ``ReturnValues`` read
in the response layer before that). LocalStack serves requests on many threads, so two
concurrent ``PutItem``s with ``attribute_not_exists(pk)`` could both succeed, and two
``version = version + 1`` updates conditioned on the old version could both apply (one update
lost). ``TransactWriteItems`` snapshots every table of the backend and, when one of its
actions fails, puts the snapshot back in place of the backend's tables, undoing any write
other threads made meanwhile. Stream sequence numbers are ``len(items) + start``, assigned
unlocked. On AWS a conditional write is atomic per item and a transaction is isolated.

How: every action of moto's ``DynamoHandler`` (the whole request: validation, reads for
``ReturnValues``, the condition, the write, the stream record it appends via
``StreamShard.add``) runs holding one re-entrant lock of its backend. Reads take it too, so a
``Scan`` never walks a table while another thread inserts into it, and sees no half-applied
transaction. Throughput does not suffer: moto's DynamoDB is pure Python and does no I/O inside
a request, so its requests were serialized by the GIL already; the lock only orders them.

DynamoDB Streams requests of the same account and region take the same lock, so a
``GetRecords`` never sees a record of a transaction that is then cancelled.

A cancelled transaction is also undone in place (:func:`undo_cancelled_transactions_in_place`):
moto puts back copies of the tables, whose stream shards are copies too, so every shard iterator
handed out before (the ones LocalStack's stream pollers hold) kept reading the old shard: it
returned the stream record of the cancelled write (AWS: none) and never any later record.

``LSH_DYNAMODB_LOCKS=0`` turns both off (moto's own behaviour).
"""

from __future__ import annotations

import os
import threading

#: (account, region) -> the lock of that DynamoDB backend
_LOCKS: dict[tuple[str, str], threading.RLock] = {}


def backend_lock(account_id: str, region: str) -> threading.RLock:
    """The lock serializing requests to the moto DynamoDB backend of ``account_id``/``region``."""
    lock = _LOCKS.get((account_id, region))
    if lock is None:
        lock = _LOCKS.setdefault((account_id, region), threading.RLock())  # atomic: one wins
    return lock


def serialize_dynamodb_requests() -> None:
    """Make each moto DynamoDB and DynamoDB Streams request hold its backend's lock, and undo a
    cancelled transaction in place (idempotent)."""
    if os.environ.get("LSH_DYNAMODB_LOCKS", "1") == "0":
        return
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        _lock_each_request(handler)
    undo_cancelled_transactions_in_place()


def _lock_each_request(handler) -> None:
    original = handler.call_action
    if getattr(original, "lsh_locked", False):
        return

    def call_action(self):
        with backend_lock(self.current_account, self.region):
            return original(self)

    call_action.lsh_locked = True
    call_action.__wrapped__ = original
    handler.call_action = call_action


def undo_cancelled_transactions_in_place() -> None:
    """When moto cancels a ``TransactWriteItems``, keep the backend's own ``Table`` objects.

    moto deep-copies all tables before a transaction and, when it is cancelled, replaces the
    backend's tables with the copies. Here the live tables are put back, each given its copy's
    items (the state before the transaction), and their stream shards forget the records the
    cancelled transaction appended, so iterators handed out before stay valid and no record of a
    write that did not happen is ever read.
    """
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "lsh_in_place", False):
        return

    def transact_write_items(self, transact_items):
        tables = self.tables
        live = dict(tables)
        records = {name: len(t.stream_shard.items) for name, t in live.items()
                   if t.stream_shard is not None}
        try:
            return original(self, transact_items)
        except BaseException:
            copies = self.tables
            if copies is not tables:  # moto rolled back by replacing the tables
                for name, table in live.items():
                    before = copies.get(name)
                    if before is not None:
                        table.items = before.items
                    if name in records:
                        del table.stream_shard.items[records[name]:]
                tables.clear()
                tables.update(live)
                self.tables = tables
            raise

    transact_write_items.lsh_in_place = True
    transact_write_items.__wrapped__ = original
    DynamoDBBackend.transact_write_items = transact_write_items
