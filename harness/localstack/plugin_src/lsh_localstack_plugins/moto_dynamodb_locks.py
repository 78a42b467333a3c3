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

``LSH_DYNAMODB_LOCKS=0`` turns it off (moto's own unlocked behaviour).
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
    """Make each moto DynamoDB request hold its backend's lock (idempotent)."""
    if os.environ.get("LSH_DYNAMODB_LOCKS", "1") == "0":
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "lsh_locked", False):
        return

    def call_action(self):
        with backend_lock(self.current_account, self.region):
            return original(self)

    call_action.lsh_locked = True
    call_action.__wrapped__ = original
    DynamoHandler.call_action = call_action
