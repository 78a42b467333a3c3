"""The upload pipeline's Hypothesis strategies: what they promise about their examples."""

from __future__ import annotations

import re

from hypothesis import given, settings

from tests.e2e.upload_pipeline import strategies as S

# what SQS accepts in a message body (SendMessage's InvalidMessageContents otherwise)
SQS_BODY = re.compile("^[\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")


@settings(max_examples=500)
@given(S.poison_messages())
def test_poison_messages_can_all_be_carried_by_sqs(message):
    assert SQS_BODY.match(message), repr(message)
