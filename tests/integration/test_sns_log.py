"""The SNS publish log (plugin ``lsh_localstack_plugins.sns_log``, client ``harness.sns_log``)
against real LocalStack: direct publishes, S3 event notifications and EventBridge targets are
recorded with the right fields; the route's filters work; the buffer's bound holds."""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid

import pytest

from harness.localstack import EmbeddedBackend
from harness.sns_log import SnsPublishLog
from harness.waits import eventually


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sns(localstack):
    return localstack.client("sns")


@pytest.fixture
def topic(sns):
    arns = []

    def create(prefix: str = "lsh-log") -> str:
        arns.append(sns.create_topic(Name=unique(prefix))["TopicArn"])
        return arns[-1]

    yield create
    for arn in arns:
        sns.delete_topic(TopicArn=arn)


@pytest.fixture
def log(localstack) -> SnsPublishLog:
    return SnsPublishLog(localstack)


def test_direct_publish_is_recorded_with_its_fields(localstack, sns, topic, log, create_queue):
    arn = topic()
    _, queue_arn = create_queue("lsh-log-q")
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    before = int(time.time() * 1000) - 5
    message_id = sns.publish(
        TopicArn=arn, Message=json.dumps({"order": "o-1"}), Subject="new order",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"},
                           "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
    )["MessageId"]
    [record] = log.published(topic_arn=arn)
    assert record.message_id == message_id and record.topic_arn == arn
    assert record.api == "Publish" and record.subject == "new order"
    assert json.loads(record.body) == {"order": "o-1"} and not record.body_truncated
    assert record.attributes["kind"] == {"DataType": "String", "StringValue": "order"}
    assert record.attributes["blob"] == {"DataType": "Binary", "BinaryValue": "AAE="}
    assert before <= record.timestamp_ms <= int(time.time() * 1000) + 5
    assert record.origin_service is None  # a client's own call
    assert record.subscriptions == (sub,)


def test_publish_batch_records_each_entry(sns, topic, log):
    arn = topic()
    answer = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": str(n), "Message": f"entry {n}", "Subject": f"s{n}"} for n in range(3)])
    records = log.published(topic_arn=arn)
    assert [r.message_id for r in records] == [e["MessageId"] for e in answer["Successful"]]
    assert [r.body for r in records] == ["entry 0", "entry 1", "entry 2"]
    assert {r.api for r in records} == {"PublishBatch"}
    assert records[1].subject == "s1" and records[1].subscriptions == ()


def test_s3_event_notification_publish_is_recorded(localstack, topic, log):
    s3 = localstack.client("s3")
    arn = topic("lsh-log-s3")
    bucket = unique("lsh-log-bucket")
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        key = f"in/{unique('report')} with spaces.csv"
        s3.put_object(Bucket=bucket, Key=key, Body=b"a,b\n")
        quoted = urllib.parse.quote(key)  # S3 URL-encodes keys in notifications
        [record] = eventually(lambda: log.published(topic_arn=arn, contains=quoted), timeout=10,
                              description="the S3 notification in the publish log")
        assert record.origin_service == "s3" and bucket in (record.origin_arn or "")
        assert record.api == "Publish" and record.subject == "Amazon S3 Notification"
        notification = json.loads(record.body)
        assert notification["Records"][0]["s3"]["object"]["key"] == quoted
        # the test event S3 sends when the configuration is put went through the same path
        test_events = log.published(topic_arn=arn, contains="s3:TestEvent")
        assert test_events and test_events[0].origin_service == "s3"
    finally:
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)


def test_eventbridge_target_publish_is_recorded(localstack, topic, log):
    events = localstack.client("events")
    arn = topic("lsh-log-bus")
    bus, rule, source = unique("lsh-bus"), unique("lsh-rule"), unique("lsh.test")
    events.create_event_bus(Name=bus)
    try:
        rule_arn = events.put_rule(Name=rule, EventBusName=bus,
                                   EventPattern=json.dumps({"source": [source]}))["RuleArn"]
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "sns", "Arn": arn}])
        sent = events.put_events(Entries=[{"EventBusName": bus, "Source": source,
                                           "DetailType": "thing", "Detail": '{"n": 1}'}])
        event_id = sent["Entries"][0]["EventId"]
        [record] = eventually(lambda: log.published(topic_arn=arn, contains=event_id),
                              timeout=10, description="the EventBridge target's publish")
        assert record.origin_service == "events" and record.origin_arn == rule_arn
        body = json.loads(record.body)
        assert body["id"] == event_id and body["source"] == source and body["detail"] == {"n": 1}
    finally:
        events.remove_targets(Rule=rule, EventBusName=bus, Ids=["sns"])
        events.delete_rule(Name=rule, EventBusName=bus)
        events.delete_event_bus(Name=bus)


def test_route_filters(sns, topic, log):
    a, b = topic(), topic()
    marker = unique("m")
    first = sns.publish(TopicArn=a, Message=f"one {marker}")["MessageId"]
    time.sleep(0.01)
    [middle] = log.published(message_id=first)
    since = middle.timestamp_ms + 1
    time.sleep(0.01)
    second = sns.publish(TopicArn=a, Message="two", Subject=f"subject {marker}")["MessageId"]
    third = sns.publish(TopicArn=b, Message=f"three {marker}")["MessageId"]
    ids = lambda **kw: [r.message_id for r in log.published(**kw)]  # noqa: E731
    assert ids(topic_arn=a) == [first, second]
    assert ids(contains=marker) == [first, second, third]  # body or subject
    assert ids(contains=[f"one {marker}", f"three {marker}"]) == [first, third]  # any of them
    assert ids(topic_arn=b, contains=marker) == [third]
    assert ids(message_id=second) == [second]
    assert ids(contains=marker, since=since) == [second, third]
    assert ids(contains=marker, limit=2) == [second, third]  # the newest
    assert ids(contains=unique("absent")) == []
    page = log.query(limit=0)
    assert page.records == [] and page.capacity == 10_000 and page.total >= 3


def test_ring_buffer_bound_and_the_settings():
    """A LocalStack of its own: 5 publishes kept, bodies cut at 8 characters; then one with the
    log switched off looks like a LocalStack without the plugin."""
    backend = EmbeddedBackend(settings={"LSH_SNS_PUBLISH_LOG_SIZE": "5",
                                        "LSH_SNS_PUBLISH_LOG_BODY_CHARS": "8"},
                              progress=lambda _: None)
    localstack = backend.start()
    try:
        sns = localstack.client("sns")
        arn = sns.create_topic(Name="bound")["TopicArn"]
        sent = [sns.publish(TopicArn=arn, Message=f"message number {n}")["MessageId"]
                for n in range(8)]
        page = SnsPublishLog(localstack).query()
        assert (page.capacity, page.held, page.total, page.dropped) == (5, 5, 8, 3)
        assert [r.message_id for r in page.records] == sent[3:]
        assert page.records[-1].body == "message " and page.records[-1].body_truncated
        assert page.records[-1].body_length == len("message number 7")
    finally:
        backend.stop()

    off = EmbeddedBackend(settings={"LSH_SNS_PUBLISH_LOG": "0"}, progress=lambda _: None)
    localstack = off.start()
    try:
        localstack.client("sns").publish(
            TopicArn=localstack.client("sns").create_topic(Name="off")["TopicArn"], Message="x")
        reason = SnsPublishLog(localstack).unavailable_reason()
        assert reason and "has no SNS publish log" in reason and "404" in reason
    finally:
        off.stop()
