"""Hypothesis strategies: what they promise about their examples."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from harness import strategies as S

# what SQS accepts in a message body (SendMessage's InvalidMessageContents otherwise)
SQS_BODY = re.compile("^[\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")


@settings(max_examples=500)
@given(st.text(S.sqs_characters))
def test_sqs_characters_can_all_be_carried_by_sqs(message):
    assert SQS_BODY.match(message), repr(message)


@settings(max_examples=300)
@given(S.s3_keys())
def test_s3_keys_fit_the_byte_limit_and_have_no_empty_segments(key):
    assert 0 < len(key.encode()) <= S.S3_KEY_MAX_BYTES
    assert all(seg.strip() not in ("", ".", "..") for seg in key.split("/")[:-1])
