"""What the queue consumers log about an SQS record they cannot read (the harness's DLQ checks
read these lines back by ``message_id``)."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def log_rejected(logger: Logger, record: SQSRecord, reason: str) -> None:
    """A body no consumer can act on: SQS retries it, then dead-letters it; this says why."""
    logger.error("rejected message", extra={
        "message_id": record.message_id, "reason": reason,
        "receive_count": int(record.attributes.approximate_receive_count)})
