"""harness.dlq against real queues and a real failing consumer (a Lambda on an event source)."""

from __future__ import annotations

import json

import pytest

from harness.dlq import DeadLetterQueue
from harness.errors import HarnessError
from harness.waits import EventuallyTimeout, eventually

FAILING_CONSUMER = '''
import json

def handler(event, context):
    for record in event["Records"]:
        try:
            json.loads(record["body"])
        except ValueError as exc:
            print("rejecting", record["messageId"], "reason:", exc)
            raise
    return {}
'''


@pytest.fixture
def queues(create_queue):
    dlq_url, dlq_arn = create_queue("lsh-dlq")
    source_url, source_arn = create_queue(
        "lsh-src", VisibilityTimeout="1",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    return source_url, source_arn, dlq_url, dlq_arn


@pytest.fixture
def consumed(queues, create_function, lambda_client):
    source_url, source_arn, _, _ = queues
    name = create_function(FAILING_CONSUMER)
    mapping = lambda_client.create_event_source_mapping(EventSourceArn=source_arn,
                                                        FunctionName=name, BatchSize=1)
    eventually(lambda: lambda_client.get_event_source_mapping(UUID=mapping["UUID"])["State"]
               == "Enabled", timeout=30)
    yield name
    lambda_client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_finds_the_dlq_from_the_redrive_policy(localstack, queues):
    source_url, _, dlq_url, dlq_arn = queues
    dlq = DeadLetterQueue(localstack, source_url)
    assert (dlq.arn, dlq.url, dlq.max_receive_count) == (dlq_arn, dlq_url, 2)


def test_poison_lands_with_its_receive_count_and_reason(localstack, queues, consumed):
    dlq = DeadLetterQueue(localstack, queues[0])
    message_id, marker = dlq.inject()
    letter = dlq.wait_for(message_id, timeout=60)
    assert marker in letter.body
    dlq.assert_receive_count(letter)
    reasons = dlq.reasons(consumed, message_id, "rejecting")
    assert reasons and "reason: Expecting value" in reasons[0]
    assert dlq.peek(), "peeking must leave the message in the DLQ"


def test_receive_count_check_fails_for_an_early_move(localstack, queues):
    dlq = DeadLetterQueue(localstack, queues[0])
    sqs = localstack.client("sqs")
    sqs.send_message(QueueUrl=dlq.url, MessageBody="put here by hand")
    letter = dlq.wait_for("put here by hand", timeout=10)
    assert letter.receive_count == 0, "peeking must not count as the consumers' receives"
    with pytest.raises(AssertionError, match="after 0 receives; the redrive policy says 2"):
        dlq.assert_receive_count(letter)


def test_wait_times_out_with_where_the_message_is(localstack, queues):
    dlq = DeadLetterQueue(localstack, queues[0])  # no consumer: the message stays in the source
    message_id, _ = dlq.inject("no consumer reads this")
    with pytest.raises(EventuallyTimeout) as info:
        dlq.wait_for(message_id, timeout=1)
    assert "source queue: 1 visible" in str(info.value)


def test_redrive_moves_messages_back_and_drain_empties(localstack, queues):
    source_url, _, dlq_url, _ = queues
    sqs = localstack.client("sqs")
    for body in ("one", "two", "keep"):
        sqs.send_message(QueueUrl=dlq_url, MessageBody=body)
    dlq = DeadLetterQueue(localstack, source_url)
    assert dlq.redrive(where=lambda d: d.body != "keep") == 2

    def back_in_source():
        messages = sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=0).get("Messages", [])
        return sorted(m["Body"] for m in messages) if len(messages) == 2 else None

    moved = eventually(back_in_source, timeout=10)
    assert moved == ["one", "two"]
    assert [d.body for d in dlq.drain()] == ["keep"]
    assert dlq.peek() == []


def test_queue_without_redrive_policy_is_a_clear_error(localstack, create_queue):
    url, _ = create_queue("lsh-plain")
    with pytest.raises(HarnessError, match="no redrive policy"):
        DeadLetterQueue(localstack, url)
