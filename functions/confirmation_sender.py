"""Confirmation queue → the event's item marked CONFIRMED, and a notification published. Once."""

from __future__ import annotations

import json
import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (BatchProcessor, EventType,
                                                   process_partial_response)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from common.aws import client, events_table, idempotency_config, persistence
from common.models import now_iso

logger = Logger()
batch = BatchProcessor(event_type=EventType.SQS)
config = idempotency_config("event_id")


@idempotent_function(data_keyword_argument="message", config=config,
                     persistence_store=persistence())
def confirm(message: dict) -> dict:
    event_id = message["event_id"]
    confirmed_at = now_iso()
    # fails (and is retried, then dead-lettered) if the event was never recorded
    events_table().update_item(
        Key={"event_id": event_id},
        UpdateExpression="SET #status = :confirmed, confirmed_at = :at",
        ConditionExpression="attribute_exists(event_id)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":confirmed": "CONFIRMED", ":at": confirmed_at})
    client("sns").publish(
        TopicArn=os.environ["NOTIFICATION_TOPIC_ARN"],
        Message=json.dumps({"event_id": event_id, "status": "CONFIRMED",
                            "confirmed_at": confirmed_at}),
        MessageAttributes={"event_id": {"DataType": "String", "StringValue": event_id}})
    logger.info("event confirmed", extra={"event_id": event_id})
    return {"event_id": event_id, "confirmed_at": confirmed_at}


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    if not isinstance(message, dict) or not message.get("event_id"):
        logger.error("rejected confirmation", extra={"message_id": record.message_id,
                                                     "reason": "no event_id in body"})
        raise ValueError(f"confirmation message {record.message_id} has no event_id")
    confirm(message={"event_id": message["event_id"]})


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=batch, context=context)
