"""Ingest queue → the events table (status ``RECEIVED``) and the confirmation queue, once per event.

- Messages are handled one by one with Powertools' ``BatchProcessor``: a bad message is reported
  as a batch item failure (SQS retries only it and, after 3 receives, moves it to the ingest DLQ)
  and never fails the others. Its reason is logged with its SQS message id.
- S3's ``s3:TestEvent`` message is logged and ignored.
- Duplicate deliveries are absorbed by Powertools idempotency keyed on the event id; past the
  idempotency window, the conditional write still never turns a ``CONFIRMED`` item back.
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
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from functions.upload_pipeline.common.aws import client, events_table, idempotency_config, persistence
from functions.upload_pipeline.common.ingest import InvalidMessage, parse_ingest_message
from functions.upload_pipeline.common.models import ConfirmationMessage, now_iso
from functions.upload_pipeline.common.records import failure_logged, log_rejected

logger = Logger()
batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
config = idempotency_config("event_id")


@idempotent_function(data_keyword_argument="event", config=config,
                     persistence_store=persistence())
def record_event(event: dict) -> dict:
    """Write one :class:`PipelineEvent` (as a dict) and ask for its confirmation."""
    ttl_days = int(os.environ.get("EVENT_TTL_DAYS", "30"))
    item = {
        "event_id": event["event_id"], "status": "RECEIVED", "source": event["source"],
        "type": event["type"], "received_at": event["received_at"], "recorded_at": now_iso(),
        "payload": json.dumps(event["payload"], sort_keys=True),
        "ttl": int(time.time()) + ttl_days * 86400,
    }
    for name in ("object_key", "bucket"):
        if event.get(name) is not None:
            item[name] = event[name]
    try:
        events_table().put_item(
            Item=item, ConditionExpression="attribute_not_exists(event_id) OR #status = :received",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":received": "RECEIVED"})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("event already confirmed; duplicate ignored",
                    extra={"event_id": event["event_id"]})
        return {"event_id": event["event_id"], "status": "DUPLICATE"}
    confirmation = ConfirmationMessage(event_id=event["event_id"], source=event["source"],
                                       type=event["type"])
    client("sqs").send_message(QueueUrl=os.environ["CONFIRMATION_QUEUE_URL"],
                               MessageBody=confirmation.model_dump_json())
    logger.info("event recorded", extra={"event_id": event["event_id"],
                                         "source": event["source"], "type": event["type"]})
    return {"event_id": event["event_id"], "status": "RECEIVED"}


def record_handler(record: SQSRecord) -> None:
    try:
        events = parse_ingest_message(record.body)
    except InvalidMessage as exc:
        log_rejected(logger, record, str(exc), exc.errors)
        raise
    if not events:
        logger.info("S3 test event ignored", extra={"message_id": record.message_id})
        return
    for event in events:
        with failure_logged(logger, record, event.event_id):
            record_event(event=event.model_dump(mode="json"))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> dict:
    config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=batch, context=context)
