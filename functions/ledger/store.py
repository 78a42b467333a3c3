"""The two tables: the event store (``AggregateId`` + ``Version``, append-only through conditional
writes) and the read model (``AggregateId``, one item per account). Table names come from the
environment (``EVENT_STORE_TABLE``, ``READ_MODEL_TABLE``)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from functions.ledger.account import Account, ConcurrencyConflict, StoredEvent


@cache
def _dynamodb():
    return boto3.resource("dynamodb")


def event_store():
    return _dynamodb().Table(os.environ["EVENT_STORE_TABLE"])


def read_model():
    return _dynamodb().Table(os.environ["READ_MODEL_TABLE"])


def _conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def load_events(aggregate_id: str, after: int = 0, up_to: int | None = None) -> list[StoredEvent]:
    """The account's events with ``after < Version <= up_to``, in version order (consistent)."""
    condition = Key("AggregateId").eq(aggregate_id)
    if up_to is None:
        condition &= Key("Version").gt(after)
    else:
        condition &= Key("Version").between(after + 1, up_to)
    kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ConsistentRead": True}
    items: list[dict] = []
    while True:
        page = event_store().query(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [StoredEvent.from_item(i) for i in items]


def append(event: StoredEvent) -> None:
    """Write ``event`` unless its version is taken: :class:`ConcurrencyConflict` then (another
    command appended first). Items are never overwritten or updated."""
    try:
        event_store().put_item(
            Item=event.to_item(),
            ConditionExpression=(
                "attribute_not_exists(AggregateId) AND attribute_not_exists(Version)"))
    except ClientError as exc:
        if _conditional_failure(exc):
            raise ConcurrencyConflict(
                f"version {event.version} of account {event.aggregate_id} was appended by "
                f"another command first: re-read the account and retry") from None
        raise


def read_view(aggregate_id: str) -> Account | None:
    item = read_model().get_item(Key={"AggregateId": aggregate_id},
                                 ConsistentRead=True).get("Item")
    return Account.from_item(item) if item else None


def save_view(account: Account) -> bool:
    """Store ``account`` unless the read model already holds this version or a later one (a
    redelivery or a replay); True when written."""
    try:
        read_model().put_item(
            Item=account.to_item(),
            ConditionExpression="attribute_not_exists(AggregateId) OR version < :v",
            ExpressionAttributeValues={":v": account.version})
        return True
    except ClientError as exc:
        if _conditional_failure(exc):
            return False
        raise
