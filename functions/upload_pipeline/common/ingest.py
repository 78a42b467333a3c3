"""Turn a message from the ingest queue into the :class:`PipelineEvent`s it carries.

The body is validated against :data:`~functions.upload_pipeline.common.models.IngestMessage` with Powertools'
parser; anything that is not one of the pipeline's shapes raises :class:`InvalidMessage`.
"""

from __future__ import annotations

import hashlib
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidModelTypeError
from aws_lambda_powertools.utilities.parser.models import S3Model

from functions.upload_pipeline.common.models import (ApiEvent, BusEvent, IngestMessage, PipelineEvent,
                                     S3TestEvent, describe, field_errors, iso)


class InvalidMessage(ValueError):
    """A message body that is none of the pipeline's shapes, or fails their validation."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__(describe(errors))


def upload_event_id(bucket: str, key: str, version_id: str | None, sequencer: str | None,
                    etag: str | None, event_time: str) -> str:
    """A stable id for one S3 event: the same notification delivered twice gives the same id.

    The sequencer tells apart two writes of one key on AWS; the ETag and event time are in too
    (S3 emulators may send a constant sequencer), all of them equal in a redelivered copy.
    """
    parts = (bucket, key, version_id or "", sequencer or "", etag or "", event_time)
    return "s3-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def from_s3(notification: S3Model) -> list[PipelineEvent]:
    events = []
    for record in notification.Records:
        obj = record.s3.object or record.s3.get_object
        bucket = record.s3.bucket.name
        key = unquote_plus(obj.key)  # S3 URL-encodes keys in notifications ("a b" -> "a+b")
        received_at = iso(record.eventTime)
        events.append(PipelineEvent(
            event_id=upload_event_id(bucket, key, obj.versionId, obj.sequencer, obj.eTag,
                                     received_at),
            source="s3", type=record.eventName, received_at=received_at,
            bucket=bucket, object_key=key,
            payload={"bucket": bucket, "key": key,
                     "size": int(obj.size) if obj.size is not None else None, "etag": obj.eTag,
                     "version_id": obj.versionId}))
    return events


def from_bus(event: BusEvent) -> list[PipelineEvent]:
    detail = event.detail.model_dump(mode="json", exclude_none=True)
    return [PipelineEvent(event_id=f"bus-{event.detail.event_id or event.id}", source="bus",
                          type=event.detail_type, received_at=iso(event.time),
                          payload=detail)]


def from_api(event: ApiEvent) -> list[PipelineEvent]:
    return [PipelineEvent(event_id=event.event_id, source="api", type=event.type,
                          received_at=iso(event.received_at), payload=event.payload)]


def parse_ingest_message(body: str) -> list[PipelineEvent]:
    """The events in one message body; ``[]`` for S3's ``s3:TestEvent``.

    Raises :class:`InvalidMessage` (naming each bad field) when it is not one of the shapes.
    """
    try:
        message = parse(event=body, model=IngestMessage)
    except ValidationError as exc:
        raise InvalidMessage(field_errors(exc, tagged_union=True)) from None
    except InvalidModelTypeError as exc:  # a model's own validator choked on a malformed body
        raise InvalidMessage([{"field": "body", "message": str(exc).splitlines()[0]}]) from None
    if isinstance(message, S3TestEvent):
        return []
    if isinstance(message, S3Model):
        return from_s3(message)
    if isinstance(message, BusEvent):
        return from_bus(message)
    return from_api(message)
