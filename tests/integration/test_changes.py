"""The change feed against real LocalStack: the session's feed is live and active, a write made
by a client wakes a waiting check, and reads do not count as changes."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from harness import changes
from harness.changes import ChangeFeed
from harness.probes import peek_messages, queue_depth
from harness.waits import Policy, eventually

#: without a wake-up, a check under this policy makes its second attempt at the 20 s deadline
WOKEN_ONLY = Policy(timeout=20, initial=60.0, cap=60.0, feed_interval=60.0)


def woken(check):
    """``eventually(check)`` under WOKEN_ONLY; fails when it was not woken long before the end."""
    started = time.monotonic()
    value = eventually(check, policy=WOKEN_ONLY)
    assert time.monotonic() - started < WOKEN_ONLY.timeout / 2, "not woken by the change"
    return value


@pytest.fixture
def table(create_table):
    return create_table("lsh-changes")


def test_the_session_feed_is_live_and_active(localstack):
    feed = changes.active()
    assert feed is not None and feed.live, getattr(feed, "unavailable_reason", None)
    assert feed.endpoint_url == localstack.endpoint_url


def test_a_write_wakes_a_check_that_would_not_poll_again_for_long(localstack, table):
    ddb, writer = localstack.client("dynamodb"), localstack.client("dynamodb")
    key = {"pk": {"S": "order-1"}}
    timer = threading.Timer(0.3, lambda: writer.put_item(TableName=table, Item=key))
    timer.start()
    item = woken(lambda: ddb.get_item(TableName=table, Key=key).get("Item"))
    timer.join()
    assert item == key


def test_internal_deliveries_count_sns_to_sqs(localstack, create_queue):
    """An SNS → SQS delivery is LocalStack's own (in-memory) request: it wakes checks too."""
    sns, sqs = localstack.client("sns"), localstack.client("sqs")
    topic = sns.create_topic(Name=f"lsh-changes-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue_url, arn = create_queue("lsh-changes")
    try:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})
        timer = threading.Timer(0.3, lambda: sns.publish(TopicArn=topic, Message="hi"))
        timer.start()
        assert woken(lambda: queue_depth(sqs, queue_url)["visible"]) == 1
        timer.join()
    finally:
        sns.delete_topic(TopicArn=topic)


def test_reads_are_not_changes(localstack, table):
    """Many reads in a row leave the counter alone (writes from elsewhere may still move it: the
    check is that 50 reads do not move it 50 times)."""
    ddb = localstack.client("dynamodb")
    with ChangeFeed(localstack.endpoint_url) as feed:
        assert feed.live
        before = feed.version
        for _ in range(50):
            ddb.get_item(TableName=table, Key={"pk": {"S": "nothing"}})
            ddb.scan(TableName=table)
        ddb.put_item(TableName=table, Item={"pk": {"S": "marker"}})
        assert feed.wait_for_change(before, 5)
        assert feed.version - before < 10


def test_peeking_a_queue_wakes_nobody(localstack, create_queue):
    """A peek hides what it reads and shows it again: an undo, marked as not a change, so a
    check that peeks does not wake itself (or every other waiting check) each time."""
    sqs = localstack.client("sqs")
    url, _ = create_queue("lsh-changes")
    for n in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    with ChangeFeed(localstack.endpoint_url) as feed:
        before = feed.version
        for _ in range(20):
            assert len(peek_messages(sqs, url)) == 12  # all of them, not the oldest ten
        assert feed.version - before < 5  # 20 peeks, each with 2 undo calls: not counted
