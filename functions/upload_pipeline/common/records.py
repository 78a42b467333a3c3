"""What both queue consumers log about an SQS record they cannot handle (the harness's DLQ checks
read these lines back by ``message_id``)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def _record_fields(record: SQSRecord) -> dict:
    return {"message_id": record.message_id,
            "receive_count": int(record.attributes.approximate_receive_count)}


def log_rejected(logger: Logger, record: SQSRecord, reason: str, errors: list) -> None:
    """A body that fails validation: retried by SQS, then dead-lettered; this says why."""
    logger.error("rejected message", extra={**_record_fields(record), "reason": reason,
                                            "errors": errors})


@contextmanager
def failure_logged(logger: Logger, record: SQSRecord, event_id: str) -> Iterator[None]:
    """Log (with the traceback) and re-raise whatever fails while handling one event."""
    try:
        yield
    except Exception:
        logger.exception("message failed; SQS will deliver it again",
                         extra={**_record_fields(record), "event_id": event_id})
        raise
