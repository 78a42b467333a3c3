"""Ingest queue → events table (+ a message on the confirmation queue), once per event.

A batch never fails as a whole: each bad message is reported as a batch item failure (so SQS
retries only it and, after 3 receives, moves it to the ingest DLQ), and its reason is logged with
its message id. Duplicate deliveries of an event are absorbed by Powertools idempotency.
"""

from __future__ import annotations

import json
import os
import time

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (BatchProcessor, EventType,
                                                   process_partial_response)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from botocore.exceptions import ClientError

from common.aws import client, events_table, idempotency_config, persistence
from common.ingest import InvalidEvent, parse_ingest_message
from common.models import now_iso

logger = Logger()
batch = BatchProcessor(event_type=EventType.SQS)
config = idempotency_config("event_id")


@idempotent_function(data_keyword_argument="event", config=config, persistence_store=persistence())
def record_event(event: dict) -> dict:
    ttl_days = int(os.environ.get("EVENT_TTL_DAYS", "30"))
    item = {
        "event_id": event["event_id"], "status": "RECEIVED", "source": event["source"],
        "type": event["type"], "payload": json.dumps(event["payload"], sort_keys=True),
        "created_at": event["created_at"], "received_at": now_iso(),
        "ttl": int(time.time()) + ttl_days * 86400,
    }
    if event.get("object_key") is not None:
        item["object_key"] = event["object_key"]
    try:
        events_table().put_item(Item=item, ConditionExpression="attribute_not_exists(event_id)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        # recorded before (outside the idempotency window): never record or confirm it twice
        logger.info("event already recorded", extra={"event_id": event["event_id"]})
        return {"event_id": event["event_id"], "status": "ALREADY_RECORDED"}
    client("sqs").send_message(QueueUrl=os.environ["CONFIRMATION_QUEUE_URL"],
                               MessageBody=json.dumps({"event_id": event["event_id"]}))
    logger.info("event recorded", extra={"event_id": event["event_id"],
                                         "source": event["source"]})
    return {"event_id": event["event_id"], "status": "RECEIVED"}


def record_handler(record: SQSRecord) -> None:
    try:
        found = parse_ingest_message(record.body)
    except InvalidEvent as exc:
        logger.error("rejected message", extra={
            "message_id": record.message_id, "reason": str(exc),
            "receive_count": record.attributes.approximate_receive_count})
        raise
    if not found:
        logger.info("ignored S3 test event", extra={"message_id": record.message_id})
        return
    for event in found:
        record_event(event=event.model_dump(mode="json"))


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=batch, context=context)
