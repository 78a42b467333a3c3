"""A command → the account's next event, appended to the event store and published to the bus.

The command is checked against the state folded from the account's events (no transaction on an
account that does not exist, no withdrawal beyond the balance, a stale ``expectedVersion`` is a
conflict); a rejected command writes nothing and gets ``statusCode`` 400 (rejected) or 409
(conflict) with one line saying why. The append is a conditional write of version N+1, so of two
commands racing for the same version exactly one wins; the other gets 409.

The event is published after it is stored. If publishing fails the invocation fails (the caller
and the function-errors alarm see it) while the event stays stored and is still projected: the
event store, not the bus, is the source of truth.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ledger.account import (CommandRejected, ConcurrencyConflict, StoredEvent, check,
                                      fold, parse_command, to_json_safe)
from functions.ledger.store import append, load_events

logger = Logger()


@cache
def _events_client():
    return boto3.client("events")


class PublishFailed(RuntimeError):
    """EventBridge did not accept a stored event."""


def publish(event: StoredEvent) -> None:
    response = _events_client().put_events(Entries=[{
        "EventBusName": os.environ["EVENT_BUS_NAME"], "Source": os.environ["EVENT_SOURCE"],
        "DetailType": event.event_type, "Resources": [],
        "Detail": json.dumps(to_json_safe(event.to_detail()))}])
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise PublishFailed(f"event {event.event_id} (account {event.aggregate_id} version "
                            f"{event.version}) is stored but EventBridge refused it: "
                            f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")


def execute(payload: Any) -> StoredEvent:
    """Check and append the command in ``payload``; the stored event (not yet published)."""
    command = parse_command(payload)
    account = fold(command.aggregateId, load_events(command.aggregateId))
    check(account, command)
    event = StoredEvent(command.aggregateId, account.version + 1, str(uuid.uuid4()),
                        command.eventType, command.eventData,
                        datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    append(event)
    return event


@logger.inject_lambda_context
def handler(payload: dict, context: LambdaContext) -> dict:
    try:
        event = execute(payload)
    except CommandRejected as exc:
        logger.info("command rejected", extra={"reason": str(exc)})
        return {"statusCode": 400, "errorType": "CommandRejected", "errorMessage": str(exc)}
    except ConcurrencyConflict as exc:
        logger.info("concurrency conflict", extra={"reason": str(exc)})
        return {"statusCode": 409, "errorType": "ConcurrencyConflict", "errorMessage": str(exc)}
    publish(event)
    logger.info("event appended", extra={"aggregate_id": event.aggregate_id,
                                         "version": event.version, "event_id": event.event_id})
    return {"statusCode": 200, "aggregateId": event.aggregate_id, "version": event.version,
            "eventId": event.event_id, "eventType": event.event_type}
