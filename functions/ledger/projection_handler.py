"""New events → the read model, one item per account, idempotent and in order per account.

Two ways in: the event store's DynamoDB stream (``INSERT`` records; the normal path) and events
replayed from the bus's archive (the rebuild path: a rule on events carrying ``replay-name``).
Either way the read model only moves forward: an event whose version the read model already has
changes nothing, so redeliveries and replays never double-count; a gap (an emptied read model, a
replay arriving out of order) is filled from the event store before the fold. The write is
conditional on the stored version being lower, so racing projections cannot move it back.

A batch that fails raises: the stream mapping retries it (bisected, a bounded number of times)
and then sends it to the projection DLQ, and the stream moves on.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeDeserializer

from functions.ledger.account import Account, StoredEvent, fold
from functions.ledger.store import load_events, read_view, save_view

logger = Logger()
_deserialize = TypeDeserializer().deserialize
MAX_ATTEMPTS = 5


class ProjectionFailed(RuntimeError):
    """The read model could not be brought to an event's version."""


def project(aggregate_id: str, events: list[StoredEvent]) -> int:
    """Bring the account's read model up to the highest version in ``events`` (missing versions
    come from the event store); its version afterwards."""
    target = max(e.version for e in events)
    for _ in range(MAX_ATTEMPTS):
        current = read_view(aggregate_id) or Account(aggregate_id)
        if current.version >= target:
            return current.version
        in_hand = {e.version: e for e in events if e.version > current.version}
        needed = range(current.version + 1, target + 1)
        if any(v not in in_hand for v in needed):
            in_hand.update({e.version: e
                            for e in load_events(aggregate_id, current.version, target)})
        state = fold(aggregate_id, [in_hand[v] for v in needed if v in in_hand], start=current)
        if state.version != target:
            raise ProjectionFailed(f"account {aggregate_id}: the event store has no version "
                                   f"{state.version + 1} (projecting up to {target})")
        if save_view(state):
            return state.version
    raise ProjectionFailed(f"account {aggregate_id}: the read model kept changing while "
                           f"projecting version {target} ({MAX_ATTEMPTS} attempts)")


def events_in(payload: dict[str, Any]) -> list[StoredEvent]:
    """The stored events a stream batch or a (replayed) bus event carries."""
    if "Records" in payload:
        return [StoredEvent.from_item({k: _deserialize(v)
                                       for k, v in r["dynamodb"]["NewImage"].items()})
                for r in payload["Records"] if r.get("eventName") == "INSERT"]
    if isinstance(payload.get("detail"), dict):
        return [StoredEvent.from_detail(payload["detail"])]
    raise ValueError(f"not a DynamoDB stream batch nor an EventBridge event: keys "
                     f"{sorted(payload)}")


@logger.inject_lambda_context
def handler(payload: dict, context: LambdaContext) -> dict:
    by_account: dict[str, list[StoredEvent]] = {}
    for event in events_in(payload):
        by_account.setdefault(event.aggregate_id, []).append(event)
    versions = {}
    for aggregate_id, events in by_account.items():
        versions[aggregate_id] = project(aggregate_id, events)
    logger.info("projected", extra={"versions": versions,
                                    "replay": payload.get("replay-name")})
    return {"projected": versions}
