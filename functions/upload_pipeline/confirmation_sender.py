"""Confirmation queue → the event's item marked ``CONFIRMED`` and a notification published. Once.

Like the processor: one bad message is a batch item failure (retried, then dead-lettered after 3
receives), never the whole batch; duplicates are absorbed by Powertools idempotency on the event
id. A confirmation for an event the table does not hold fails the same way.
"""

from __future__ import annotations

import json
import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (BatchProcessor, EventType,
                                                   process_partial_response)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from functions.upload_pipeline.common.aws import client, events_table, idempotency_config, persistence
from functions.upload_pipeline.common.models import ConfirmationMessage, describe, field_errors, now_iso
from functions.upload_pipeline.common.records import failure_logged, log_rejected

logger = Logger()
batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
config = idempotency_config("event_id")


class UnknownEvent(LookupError):
    """The confirmation names an event the events table does not hold."""


@idempotent_function(data_keyword_argument="message", config=config,
                     persistence_store=persistence())
def confirm(message: dict) -> dict:
    event_id = message["event_id"]
    try:
        item = events_table().update_item(
            Key={"event_id": event_id},
            UpdateExpression="SET #status = :confirmed, confirmed_at = if_not_exists("
                             "confirmed_at, :now)",
            ConditionExpression="attribute_exists(event_id)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":confirmed": "CONFIRMED", ":now": now_iso()},
            ReturnValues="ALL_NEW")["Attributes"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise UnknownEvent(f"no event {event_id!r} in the events table") from None
        raise
    notification = {key: item[key] for key in ("event_id", "status", "source", "type",
                                               "object_key", "received_at", "confirmed_at")
                    if key in item}
    client("sns").publish(
        TopicArn=os.environ["NOTIFICATION_TOPIC_ARN"], Message=json.dumps(notification),
        MessageAttributes={
            "event_id": {"DataType": "String", "StringValue": event_id},
            "source": {"DataType": "String", "StringValue": str(item.get("source", ""))},
            "status": {"DataType": "String", "StringValue": "CONFIRMED"}})
    logger.info("event confirmed", extra={"event_id": event_id})
    return {"event_id": event_id, "confirmed_at": item["confirmed_at"]}


def record_handler(record: SQSRecord) -> None:
    try:
        message = parse(event=record.body, model=ConfirmationMessage)
    except ValidationError as exc:
        errors = field_errors(exc)
        log_rejected(logger, record, describe(errors), errors)
        raise
    with failure_logged(logger, record, message.event_id):
        confirm(message=message.model_dump(mode="json"))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> dict:
    config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=batch, context=context)
