"""What SNS -> SQS cannot deliver is refused at the API's door (issue 11, item 3), through the
real API Gateway -> Lambda -> SNS -> SQS of the deployed pipeline: U+FFFE/U+FFFF get 400, an
event over SNS's 256 KiB gets 413 (was a bare 502), just under the limit is CONFIRMED; fuzzed
over every Unicode plane: each body is confirmed or refused, never accepted and lost."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.upload_pipeline.common.models import SNS_MAX_MESSAGE_BYTES
from harness.pytest_plugin import FUZZ_PROFILE


@pytest.mark.parametrize("text", ["a\ufffeb", "\uffff"], ids=["U+FFFE", "U+FFFF"])
def test_characters_sqs_cannot_carry_get_400_naming_them(client, text):
    resp = client.post_api({"type": "note.added", "payload": {"text": text}})
    assert resp.status == 400, resp.body
    assert "which an SQS message cannot carry" in resp.body["message"]
    assert "payload.text" in resp.body["message"]


def test_an_event_over_256_kib_gets_413_saying_so(client):
    resp = client.post_api({"type": "blob.added", "payload": {"blob": "x" * 300_000}})
    assert resp.status == 413, resp.body
    assert "SNS carries at most 262,144 bytes" in resp.body["message"]


def test_an_event_just_under_the_limit_is_confirmed(client):
    blob = "y" * (SNS_MAX_MESSAGE_BYTES - 400)
    resp = client.post_api({"type": "blob.added", "payload": {"blob": blob}})
    assert resp.status == 202, resp.body
    item = client.wait_for_status(resp.event_id)
    assert json.loads(item["payload"]) == {"blob": blob}


any_character = st.one_of(st.sampled_from(["\ufffe", "\uffff", "\x00", "\U0010ffff", "é"]),
                          st.integers(0, 0x10FFFF).filter(lambda c: not 0xD800 <= c <= 0xDFFF)
                          .map(chr))


@settings(settings.get_profile(FUZZ_PROFILE))
@given(text=st.text(any_character, min_size=1, max_size=12))
def test_fuzz_every_body_is_confirmed_or_refused(client, text):
    resp = client.post_api({"type": "note.added", "payload": {"text": text}})
    if resp.status == 202:
        item = client.wait_for_status(resp.event_id)
        assert json.loads(item["payload"]) == {"text": text}
    else:
        assert resp.status == 400 and "cannot carry" in resp.body["message"], resp.body
