"""Pydantic models of everything the pipeline reads and writes.

Three shapes arrive on the ingest queue (SNS raw message delivery, so the SQS body is exactly what
was published to the topic):

- an S3 event notification (``{"Records": [...]}``), or the ``s3:TestEvent`` message S3 sends once
  when notifications are configured on the bucket;
- the event the API handler published (:class:`ApiEvent`, ``"source": "api"``);
- an EventBridge event envelope (``detail-type``/``source``/``detail``) delivered by the bus rule.

:data:`IngestMessage` is a tagged union of the four; :func:`message_shape` picks the member, so a
body that is none of them fails validation with one clear error instead of four.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, S3Model
from pydantic import (BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag,
                      ValidationError, field_serializer, field_validator)

Source = Literal["s3", "api", "bus"]


def now_iso() -> str:
    """The current UTC time, ISO 8601 with milliseconds (sorts as text, as the GSI needs)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(moment: datetime) -> str:
    """``moment`` as :func:`now_iso` writes it (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"))


#: An event type: a short dotted/colon name such as ``order.created`` or ``ObjectCreated:Put``.
EventTypeName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128,
                      pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"),
]
EventId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


#: Characters an SQS message body cannot hold that a JSON serializer writes as they are (C0
#: controls are escaped): SNS accepts them, then its delivery to an SQS subscription drops the
#: message with no DLQ (AWS and LocalStack alike), so the API refuses them at the door.
SQS_UNSAFE_CHARACTERS = re.compile("[\ufffe\uffff\ud800-\udfff]")
#: The most an SNS message may hold (body and attributes), in bytes.
SNS_MAX_MESSAGE_BYTES = 262_144


def undeliverable(value: Any, path: str = "payload") -> str | None:
    """Why ``value`` (decoded JSON) cannot travel SNS -> SQS intact, naming where; else None."""
    if isinstance(value, str):
        bad = SQS_UNSAFE_CHARACTERS.search(value)
        if bad:
            return (f"{path} holds U+{ord(bad.group()):04X} at character {bad.start()}, which an "
                    "SQS message cannot carry (SNS -> SQS would drop the event): remove it")
    elif isinstance(value, float) and not math.isfinite(value):
        return f"{path} is {value}, which JSON cannot carry: send a number or a string"
    elif isinstance(value, dict):
        for key, item in value.items():
            found = undeliverable(key, f"{path} key {key!r}") or undeliverable(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = undeliverable(item, f"{path}.{index}")
            if found:
                return found
    return None


class NewEventRequest(BaseModel):
    """The JSON body of ``POST /events``."""

    model_config = ConfigDict(extra="forbid")

    type: EventTypeName = Field(description="What happened, e.g. 'order.created'.")
    payload: dict[str, Any] = Field(default_factory=dict,
                                    description="Free-form JSON object carried with the event.")

    @field_validator("payload")
    @classmethod
    def _deliverable(cls, payload: dict[str, Any]) -> dict[str, Any]:
        problem = undeliverable(payload)
        if problem:
            raise ValueError(problem)
        return payload


class ApiEvent(BaseModel):
    """What the API handler publishes to the ingest topic."""

    source: Literal["api"]
    event_id: EventId
    type: EventTypeName
    payload: dict[str, Any] = Field(default_factory=dict)
    received_at: datetime

    @field_serializer("received_at")
    def _received_at(self, value: datetime) -> str:
        return iso(value)


class S3TestEvent(BaseModel):
    """The message S3 publishes once when a notification configuration is put on a bucket."""

    Event: Literal["s3:TestEvent"]
    Service: str = "Amazon S3"
    Bucket: str | None = None
    Time: str | None = None
    RequestId: str | None = None


class BusDetail(BaseModel):
    """``detail`` of a bus event: free-form, with an optional caller-chosen ``event_id``."""

    model_config = ConfigDict(extra="allow")

    event_id: EventId | None = None


class BusEvent(EventBridgeModel):
    """An EventBridge event envelope, as the bus rule's SNS target publishes it."""

    detail: BusDetail  # type: ignore[assignment]


def message_shape(value: Any) -> str | None:
    """The tag of the :data:`IngestMessage` member a decoded message body belongs to."""
    if not isinstance(value, dict):
        return None
    if "Records" in value:
        return "s3"
    if value.get("Event") == "s3:TestEvent":
        return "s3-test"
    if "detail-type" in value:
        return "bus"
    if value.get("source") == "api":
        return "api"
    return None


IngestMessage = Annotated[
    Union[
        Annotated[S3Model, Tag("s3")],
        Annotated[S3TestEvent, Tag("s3-test")],
        Annotated[BusEvent, Tag("bus")],
        Annotated[ApiEvent, Tag("api")],
    ],
    Discriminator(
        message_shape,
        custom_error_type="unknown_message_shape",
        custom_error_message=("unrecognised message: expected an S3 event notification "
                              "('Records'), an API event ('source': 'api') or an EventBridge "
                              "event ('detail-type')"),
    ),
]


class PipelineEvent(BaseModel):
    """One event, whatever way it came in: what the processor stores and confirms."""

    event_id: EventId
    source: Source
    type: str
    received_at: str  # ISO 8601 UTC, as iso() writes it
    payload: dict[str, Any] = Field(default_factory=dict)
    bucket: str | None = None
    object_key: str | None = None


class ConfirmationMessage(BaseModel):
    """The processor's message to the confirmation queue."""

    event_id: EventId
    source: Source
    type: str


UNION_TAGS = ("s3", "s3-test", "bus", "api")


def field_errors(exc: ValidationError, *, tagged_union: bool = False) -> list[dict[str, str]]:
    """Each problem of ``exc`` as ``{"field": "payload.items.0", "message": "..."}``.

    With ``tagged_union`` (errors of :data:`IngestMessage`) the member's tag that starts each
    path is left out. A problem with the document as a whole (not JSON, not an object) is
    reported against the field ``body``.
    """
    found = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        if tagged_union and loc and loc[0] in UNION_TAGS:
            loc = loc[1:]
        found.append({"field": ".".join(loc) or "body", "message": error["msg"]})
    return found


def describe(errors: list[dict[str, str]]) -> str:
    """One line naming every bad field: ``type: Field required; payload: Input should be...``."""
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)
