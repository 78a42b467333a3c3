"""Recognise what arrives on the ingest queue and turn it into :class:`PipelineEvent`s.

Three shapes come in through the pipeline topic (raw delivery): an S3 event notification, an
EventBridge event (from the bus rule), or a :class:`PipelineEvent` published by the API handler.
Anything else is invalid: it is retried, then lands in the ingest DLQ.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, S3Model
from pydantic import ValidationError

from common.models import EventBody, PipelineEvent, describe_validation_error


class InvalidEvent(ValueError):
    """A message that is none of the pipeline's shapes, or fails their validation."""


def _stable_id(prefix: str, *parts: str) -> str:
    return f"{prefix}-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def from_s3_notification(doc: dict) -> list[PipelineEvent]:
    notification = S3Model.model_validate(doc)
    found = []
    for record in notification.Records:
        key = unquote_plus(record.s3.object.key)  # S3 URL-encodes keys in notifications
        bucket = record.s3.bucket.name
        sequencer = record.s3.object.sequencer or record.s3.object.eTag or ""
        found.append(PipelineEvent(
            # the same upload notification delivered twice gives the same id; a new upload of
            # the same key has a new sequencer, so it is a new event
            event_id=_stable_id("s3", bucket, key, sequencer),
            source="s3", type=f"upload.{record.eventName}", object_key=key,
            payload={"bucket": bucket, "key": key, "size": record.s3.object.size,
                     "etag": record.s3.object.eTag},
            created_at=record.eventTime.isoformat()))
    return found


def from_bus_event(doc: dict) -> list[PipelineEvent]:
    envelope = EventBridgeModel.model_validate(doc)
    body = EventBody.model_validate(envelope.detail)
    return [PipelineEvent(event_id=f"bus-{body.event_id or envelope.id}", source="bus",
                          type=body.type, payload=body.payload,
                          created_at=envelope.time.isoformat())]


def parse_ingest_message(body: str) -> list[PipelineEvent]:
    """The events in one ingest-queue message ([] for S3's test event); raises InvalidEvent."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise InvalidEvent(f"body is not JSON ({exc}); first bytes: {body[:80]!r}") from None
    if not isinstance(doc, dict):
        raise InvalidEvent(f"body is JSON but not an object: {type(doc).__name__}")
    try:
        if doc.get("Event") == "s3:TestEvent":
            return []
        if "Records" in doc:
            return from_s3_notification(doc)
        if "detail-type" in doc and "detail" in doc:
            return from_bus_event(doc)
        if doc.get("source") == "api":
            return [PipelineEvent.model_validate(doc)]
    except ValidationError as exc:
        raise InvalidEvent(describe_validation_error(exc)) from None
    raise InvalidEvent("unrecognised message: expected an S3 event notification, an EventBridge "
                       "event or an API event (keys seen: " + ", ".join(sorted(doc)[:10]) + ")")
