"""``functions.upload_pipeline.api_handler``: POST /events validates, publishes once, answers 202 with the id."""

from __future__ import annotations

import json
import re
import uuid

import pytest


def api_event(body, headers: dict | None = None, path: str = "/events",
              method: str = "POST") -> dict:
    """An API Gateway REST (proxy integration) event."""
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    headers = {"Content-Type": "application/json", **(headers or {})}
    return {
        "resource": path, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "isBase64Encoded": False, "body": body,
        "requestContext": {"resourcePath": path, "httpMethod": method, "path": f"/v1{path}",
                           "stage": "v1", "requestId": str(uuid.uuid4()),
                           "accountId": "123456789012", "apiId": "abc123",
                           "identity": {"sourceIp": "127.0.0.1"}},
    }


@pytest.fixture
def api(load_function):
    return load_function("api_handler")


def call(api, lambda_context, body, headers=None) -> tuple[int, dict]:
    response = api.handler(api_event(body, headers), lambda_context)
    return response["statusCode"], json.loads(response["body"])


def test_a_valid_event_is_published_and_accepted(api, pipeline_aws, lambda_context):
    status, body = call(api, lambda_context, {"type": "order.created", "payload": {"n": 1.5}})
    assert status == 202
    assert body["status"] == "accepted"
    assert re.fullmatch(r"api-[0-9a-f]{32}", body["event_id"])
    published = [json.loads(m) for m in pipeline_aws.drain(pipeline_aws.topic_tap_url)]
    assert len(published) == 1
    assert published[0]["event_id"] == body["event_id"]
    assert published[0]["source"] == "api"
    assert published[0]["type"] == "order.created"
    assert published[0]["payload"] == {"n": 1.5}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", published[0]["received_at"])


def test_payload_is_optional(api, pipeline_aws, lambda_context):
    status, _ = call(api, lambda_context, {"type": "ping"})
    assert status == 202
    assert json.loads(pipeline_aws.drain(pipeline_aws.topic_tap_url)[0])["payload"] == {}


@pytest.mark.parametrize("body, field, words", [
    ({"payload": {}}, "type", "Field required"),
    ({"type": "", "payload": {}}, "type", "at least 1 character"),
    ({"type": "has spaces", "payload": {}}, "type", "pattern"),
    ({"type": "x", "payload": [1, 2]}, "payload", "should be an object"),
    ({"type": "x", "payload": {}, "colour": "red"}, "colour", "Extra inputs"),
    ({"type": "x", "bus": 1}, "bus", "Extra inputs"),
    ("{not json", "body", "Invalid JSON"),
    ("[1, 2]", "body", "should be an object"),
    (None, "body", "Invalid JSON"),
])
def test_a_bad_body_gets_400_naming_the_field(api, pipeline_aws, lambda_context, body, field,
                                              words):
    status, answer = call(api, lambda_context, body)
    assert status == 400
    assert answer["message"].startswith("invalid request body: ")
    assert f"{field}: " in answer["message"]
    assert words in answer["message"]
    assert any(e["field"] == field for e in answer["errors"])
    assert pipeline_aws.drain(pipeline_aws.topic_tap_url) == []  # nothing published


def test_same_idempotency_key_returns_the_same_id_and_publishes_once(api, pipeline_aws,
                                                                     lambda_context):
    request = {"type": "order.created", "payload": {"order": 7}}
    first = call(api, lambda_context, request, {"Idempotency-Key": "k-1"})
    # header names are case-insensitive
    again = call(api, lambda_context, request, {"idempotency-key": "k-1"})
    assert first[0] == again[0] == 202
    assert first[1]["event_id"] == again[1]["event_id"]
    published = pipeline_aws.drain(pipeline_aws.topic_tap_url)
    assert [json.loads(m)["event_id"] for m in published] == [first[1]["event_id"]]


def test_another_idempotency_key_or_none_is_another_event(api, pipeline_aws, lambda_context):
    request = {"type": "order.created", "payload": {}}
    ids = {call(api, lambda_context, request, {"Idempotency-Key": "a"})[1]["event_id"],
           call(api, lambda_context, request, {"Idempotency-Key": "b"})[1]["event_id"],
           call(api, lambda_context, request)[1]["event_id"],
           call(api, lambda_context, request)[1]["event_id"]}
    assert len(ids) == 4
    assert len(pipeline_aws.drain(pipeline_aws.topic_tap_url)) == 4


def test_reusing_an_idempotency_key_with_another_body_is_refused(api, pipeline_aws,
                                                                 lambda_context):
    assert call(api, lambda_context, {"type": "a"}, {"Idempotency-Key": "k"})[0] == 202
    status, answer = call(api, lambda_context, {"type": "b"}, {"Idempotency-Key": "k"})
    assert status == 422
    assert "Idempotency-Key" in answer["message"]
    assert len(pipeline_aws.drain(pipeline_aws.topic_tap_url)) == 1


def test_an_overlong_idempotency_key_is_a_bad_request(api, pipeline_aws, lambda_context):
    status, answer = call(api, lambda_context, {"type": "a"}, {"Idempotency-Key": "k" * 256})
    assert status == 400
    assert "Idempotency-Key" in answer["message"]
    assert pipeline_aws.drain(pipeline_aws.topic_tap_url) == []


def test_other_routes_are_not_found(api, lambda_context):
    response = api.handler(api_event({"type": "a"}, path="/other"), lambda_context)
    assert response["statusCode"] == 404
