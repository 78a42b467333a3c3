"""``POST /events``: validate the JSON body, publish it to the pipeline topic, return its id.

An ``Idempotency-Key`` header makes retries safe: the same key with the same body returns the
first call's event id and publishes nothing more; the same key with another body is refused (422).
"""

from __future__ import annotations

import json
import os
import uuid

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyValidationError
from pydantic import ValidationError

from common.aws import client, idempotency_config, persistence
from common.models import EventBody, PipelineEvent, describe_validation_error, now_iso

logger = Logger()
app = APIGatewayRestResolver()
config = idempotency_config("idempotency_key", payload_validation_jmespath="body")


def _json(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body))


def publish(body: dict) -> dict:
    event = PipelineEvent(event_id=f"api-{body.get('event_id') or uuid.uuid4().hex}",
                          source="api", type=body["type"], payload=body["payload"],
                          created_at=now_iso())
    client("sns").publish(
        TopicArn=os.environ["TOPIC_ARN"], Message=event.model_dump_json(),
        MessageAttributes={"event_id": {"DataType": "String", "StringValue": event.event_id}})
    logger.info("event published", extra={"event_id": event.event_id})
    return {"event_id": event.event_id}


@idempotent_function(data_keyword_argument="request", config=config,
                     persistence_store=persistence())
def publish_once(request: dict) -> dict:
    return publish(request["body"])


@app.post("/events")
def post_event() -> Response:
    try:
        raw = json.loads(app.current_event.body or "")
    except ValueError as exc:
        return _json(400, {"message": f"the body must be a JSON object ({exc})"})
    if not isinstance(raw, dict):
        return _json(400, {"message": "the body must be a JSON object with `type` and `payload`"})
    try:
        body = EventBody.model_validate(raw).model_dump(mode="json")
    except ValidationError as exc:
        return _json(400, {"message": f"invalid event: {describe_validation_error(exc)}"})
    key = app.current_event.get_header_value("Idempotency-Key", case_sensitive=False)
    if not key:
        return _json(202, publish(body))
    try:
        result = publish_once(request={"idempotency_key": key, "body": body})
    except IdempotencyValidationError:
        return _json(422, {"message": f"Idempotency-Key {key!r} was already used with another body"})
    return _json(202, result)


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    config.register_lambda_context(context)
    return app.resolve(event, context)
