"""``POST /events`` accepts only what SNS -> SQS can deliver (issue 11, item 3): a body with
U+FFFE/U+FFFF, NaN/Infinity, or an event over SNS's 256 KiB gets a 4xx naming the problem;
every accepted body is published intact in a message SQS can carry. Fuzzed over every Unicode
plane and sizes around the limit."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.upload_pipeline.common.models import SNS_MAX_MESSAGE_BYTES
from tests.unit.upload_pipeline.test_functions_api_handler import call

#: what an SQS message body may hold (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html)
SQS_BODY = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
#: bytes of the published event that are not the payload's text (JSON keys, ids, attributes)
HEADROOM = 400


@pytest.fixture
def api(load_function):
    return load_function("api_handler")


@pytest.mark.parametrize("payload, words", [
    ({"note": "a\ufffeb"}, "payload.note holds U+FFFE at character 1"),
    ({"note": "\uffff"}, "payload.note holds U+FFFF at character 0"),
    ({"list": ["ok", {"deep": "x\uffff"}]}, "payload.list.1.deep holds U+FFFF"),
    ({"k\ufffe": 1}, "payload key 'k\\ufffe' holds U+FFFE"),
])
def test_characters_sqs_cannot_carry_are_refused_with_400(api, pipeline_aws, lambda_context,
                                                          payload, words):
    status, answer = call(api, lambda_context, {"type": "x", "payload": payload})
    assert status == 400
    assert words in answer["message"] and "SNS -> SQS would drop the event" in answer["message"]
    assert pipeline_aws.drain(pipeline_aws.topic_tap_url) == []


@pytest.mark.parametrize("raw", ['{"type": "x", "payload": {"n": NaN}}',
                                 '{"type": "x", "payload": {"n": [Infinity]}}'])
def test_nan_and_infinity_are_refused_not_turned_into_null(api, pipeline_aws, lambda_context,
                                                           raw):
    status, answer = call(api, lambda_context, raw)
    assert status == 400 and "which JSON cannot carry" in answer["message"]
    assert pipeline_aws.drain(pipeline_aws.topic_tap_url) == []


def test_an_event_over_256_kib_is_refused_with_413_saying_so(api, pipeline_aws, lambda_context):
    status, answer = call(api, lambda_context,
                          {"type": "x", "payload": {"blob": "a" * SNS_MAX_MESSAGE_BYTES}})
    assert status == 413
    assert "SNS carries at most 262,144 bytes" in answer["message"]
    assert answer["event_bytes"] > answer["limit_bytes"] == SNS_MAX_MESSAGE_BYTES
    assert pipeline_aws.drain(pipeline_aws.topic_tap_url) == []


def test_an_event_just_under_the_limit_is_accepted_and_published(api, pipeline_aws,
                                                                 lambda_context):
    blob = "a" * (SNS_MAX_MESSAGE_BYTES - HEADROOM)
    status, answer = call(api, lambda_context, {"type": "x", "payload": {"blob": blob}})
    assert status == 202, answer
    [published] = pipeline_aws.drain(pipeline_aws.topic_tap_url)
    assert json.loads(published)["payload"] == {"blob": blob}


#: every plane, surrogates included (a lone surrogate can only arrive JSON-escaped)
any_character = st.one_of(
    st.sampled_from(["\ufffe", "\uffff", "\ud800", "\udfff", "\x00", "\x1f", "\x7f",
                     "\ufffd", "\U00010000", "\U0010ffff", "\u2028"]),
    st.integers(0, 0x10FFFF).map(chr))
any_text = st.text(any_character, max_size=20)


def _escaped(value) -> str:
    """JSON with every non-ASCII character escaped, so lone surrogates can be written."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True)


def _outcome(api, pipeline_aws, lambda_context, raw: str, payload: dict) -> None:
    """Delivered intact in an SQS-safe message, or refused with a 4xx naming it: never lost."""
    status, answer = call(api, lambda_context, raw)
    published = pipeline_aws.drain(pipeline_aws.topic_tap_url)
    if status == 202:
        assert len(published) == 1
        assert SQS_BODY.fullmatch(published[0]), "accepted, but SQS would drop it"
        assert json.loads(published[0])["payload"] == payload
    else:
        assert 400 <= status < 500 and answer["message"], (status, answer)
        assert published == []


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=st.dictionaries(any_text, st.one_of(any_text, st.lists(any_text, max_size=3),
                                                   st.floats(allow_nan=True)), max_size=4))
def test_fuzz_every_unicode_plane_is_delivered_or_refused(api, pipeline_aws, lambda_context,
                                                          payload):
    _outcome(api, pipeline_aws, lambda_context, _escaped({"type": "x", "payload": payload}),
             payload)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(size=st.integers(SNS_MAX_MESSAGE_BYTES - 2 * HEADROOM, SNS_MAX_MESSAGE_BYTES + HEADROOM),
       wide=st.sampled_from(["a", "é", "€", "😀"]))
def test_fuzz_sizes_around_the_limit_are_delivered_or_refused(api, pipeline_aws,
                                                              lambda_context, size, wide):
    blob = wide * (size // len(wide.encode()))
    payload = {"blob": blob}
    _outcome(api, pipeline_aws, lambda_context, json.dumps({"type": "x", "payload": payload}),
             payload)
