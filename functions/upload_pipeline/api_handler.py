"""``POST /events``: validate the JSON body, publish the event to the pipeline topic, answer 202.

- A bad body gets 400 and a message naming each bad field (``{"message", "errors": [{field,
  message}]}``); nothing is published. That includes what SNS -> SQS cannot carry (U+FFFE,
  U+FFFF, NaN): such an event would be accepted, then dropped on its way with no DLQ.
- A body whose event would exceed SNS's 256 KiB message limit gets 413 saying so (it used to be
  a bare 502 from a failed publish).
- An ``Idempotency-Key`` header makes retries safe (Powertools idempotency, DynamoDB store): the
  same key with the same body returns the first call's event id and publishes nothing more; the
  same key with another body gets 422; a retry while the first call still runs gets 409.
"""

from __future__ import annotations

import os
import uuid

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError, IdempotencyValidationError)
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.upload_pipeline.common.aws import client, idempotency_config, persistence
from functions.upload_pipeline.common.models import (SNS_MAX_MESSAGE_BYTES, ApiEvent,
                                                     NewEventRequest, describe, field_errors,
                                                     now_iso)

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_LENGTH = 255

logger = Logger()
app = APIGatewayRestResolver()
config = idempotency_config("idempotency_key", payload_validation_jmespath="request")


def _error(status: int, message: str, **extra) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body={"message": message, **extra})


def new_event(request: dict) -> ApiEvent:
    return ApiEvent(source="api", event_id=f"api-{uuid.uuid4().hex}", type=request["type"],
                    payload=request["payload"], received_at=now_iso())


def attributes(event: ApiEvent) -> dict:
    return {"source": {"DataType": "String", "StringValue": "api"},
            "event_id": {"DataType": "String", "StringValue": event.event_id}}


def message_bytes(event: ApiEvent) -> int:
    """The size SNS counts for the event's message: body plus attribute names, types, values."""
    size = len(event.model_dump_json().encode())
    for name, value in attributes(event).items():
        size += len(name.encode()) + len(value["DataType"]) + len(value["StringValue"].encode())
    return size


def publish(request: dict) -> dict:
    """Give the event an id, publish it to the pipeline topic; return what the API answers."""
    event = new_event(request)
    client("sns").publish(TopicArn=os.environ["TOPIC_ARN"], Message=event.model_dump_json(),
                          MessageAttributes=attributes(event))
    logger.info("event published", extra={"event_id": event.event_id, "type": event.type})
    return {"event_id": event.event_id, "status": "accepted"}


@idempotent_function(data_keyword_argument="call", config=config,
                     persistence_store=persistence())
def publish_once(call: dict) -> dict:
    """:func:`publish`, once per ``call["idempotency_key"]``."""
    return publish(call["request"])


@app.post("/events")
def post_event() -> Response:
    try:
        request = parse(event=app.current_event.body or "", model=NewEventRequest)
    except ValidationError as exc:
        errors = field_errors(exc)
        logger.info("invalid request", extra={"errors": errors})
        return _error(400, f"invalid request body: {describe(errors)}", errors=errors)
    body = request.model_dump(mode="json")
    size = message_bytes(new_event(body))
    if size > SNS_MAX_MESSAGE_BYTES:
        logger.info("request too large", extra={"bytes": size})
        return _error(413, f"request body too large: its event would be {size:,} bytes, and SNS "
                           f"carries at most {SNS_MAX_MESSAGE_BYTES:,} bytes (256 KiB) per "
                           "message: send less (e.g. put large content in S3 and send its key)",
                      limit_bytes=SNS_MAX_MESSAGE_BYTES, event_bytes=size)
    key = app.current_event.headers.get(IDEMPOTENCY_HEADER)
    if key is None or not key.strip():
        return Response(202, content_types.APPLICATION_JSON, publish(body))
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        return _error(400, f"{IDEMPOTENCY_HEADER}: at most {MAX_IDEMPOTENCY_KEY_LENGTH} "
                           "characters")
    try:
        result = publish_once(call={"idempotency_key": key, "request": body})
    except IdempotencyValidationError:
        return _error(422, f"{IDEMPOTENCY_HEADER} {key!r} was already used with another body")
    except IdempotencyAlreadyInProgressError:
        return _error(409, f"a request with {IDEMPOTENCY_HEADER} {key!r} is still in progress; "
                           "retry later")
    return Response(202, content_types.APPLICATION_JSON, result)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context: LambdaContext) -> dict:
    config.register_lambda_context(context)
    return app.resolve(event, context)
