"""Event sources are woken by a message arriving on their queue or a record written to their
DynamoDB stream (lsh_localstack_plugins.esm_push).

The LocalStack of this module polls its event sources only every 600 s after a poll that found
messages (``LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC``) and after an empty one
(``..._MAX_BACKOFF_ON_EMPTY_POLL_SEC``): once a mapping has handled its first message, a later
message reaches the function within the tests' deadlines only if its arrival wakes the poller.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import uuid
from pathlib import Path

import pytest

from harness.localstack import EmbeddedBackend
from harness.probes import queue_depth, wait_for_log_line
from harness.waits import eventually
from tests.integration.conftest import make_zip, unique, wait_for_function_state

pytestmark = pytest.mark.integration

#: far beyond every deadline below: only a push can deliver in time
FALLBACK_POLL_S = "600"
DEADLINE_S = 60
ROLE = "arn:aws:iam::000000000000:role/lsh-esm-push"
HANDLER = '''
def handler(event, context):
    for record in event["Records"]:
        print("GOT " + record["body"])
    return {}
'''
PLUGIN = (Path(__file__).resolve().parents[2] / "harness" / "localstack" / "plugin_src"
          / "lsh_localstack_plugins" / "esm_push.py")


@pytest.fixture(scope="module")
def slow_poll_localstack():
    backend = EmbeddedBackend(settings={
        "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": FALLBACK_POLL_S,
        "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": FALLBACK_POLL_S,
    })
    try:
        yield backend.start()
    finally:
        backend.stop()


@pytest.fixture
def mapped_queue(slow_poll_localstack):
    """``(queue_url, queue_arn, log_group)``: a queue whose messages a function prints (BatchSize
    10), with the mapping enabled and its first message handled, so its poller now sleeps."""
    ls = slow_poll_localstack
    lam, sqs, logs = ls.client("lambda"), ls.client("sqs"), ls.client("logs")
    name = unique("lsh-push")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                        Handler="index.handler", Code={"ZipFile": make_zip({"index.py": HANDLER})},
                        Timeout=10)
    assert wait_for_function_state(lam, name)["State"] == "Active"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                              BatchSize=10)
    try:
        eventually(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"]
                   == "Enabled", timeout=30, description="the event source mapping is enabled")
        sqs.send_message(QueueUrl=url, MessageBody="first")  # may come by push or by poll
        wait_for_log_line(logs, f"/aws/lambda/{name}", "GOT first", timeout=DEADLINE_S)
        yield url, arn, f"/aws/lambda/{name}"
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
        lam.delete_function(FunctionName=name)


def test_send_message_wakes_the_sleeping_poller(slow_poll_localstack, mapped_queue):
    url, _, group = mapped_queue
    sqs, logs = slow_poll_localstack.client("sqs"), slow_poll_localstack.client("logs")
    for i in range(3):  # each one finds the poller asleep for 600 s
        body = f"one-{i}-{uuid.uuid4().hex[:6]}"
        sqs.send_message(QueueUrl=url, MessageBody=body)
        wait_for_log_line(logs, group, f"GOT {body}", timeout=DEADLINE_S)
    eventually(lambda: queue_depth(sqs, url) == {"visible": 0, "in_flight": 0},
               timeout=DEADLINE_S, description="every message deleted after its batch")


def test_send_message_batch_wakes_the_sleeping_poller(slow_poll_localstack, mapped_queue):
    url, _, group = mapped_queue
    sqs, logs = slow_poll_localstack.client("sqs"), slow_poll_localstack.client("logs")
    bodies = [f"batch-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)])
    assert len(result["Successful"]) == 3
    for body in bodies:
        wait_for_log_line(logs, group, f"GOT {body}", timeout=DEADLINE_S)


def test_sns_delivery_to_the_queue_wakes_the_sleeping_poller(slow_poll_localstack, mapped_queue):
    """LocalStack's own SNS → SQS delivery (an internal call) wakes the poller too."""
    url, arn, group = mapped_queue
    ls = slow_poll_localstack
    sns, sqs, logs = ls.client("sns"), ls.client("sqs"), ls.client("logs")
    topic = sns.create_topic(Name=unique("lsh-push-topic"))["TopicArn"]
    try:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn}]})})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})
        body = f"sns-{uuid.uuid4().hex[:6]}"
        sns.publish(TopicArn=topic, Message=body)
        wait_for_log_line(logs, group, f"GOT {body}", timeout=DEADLINE_S)
    finally:
        sns.delete_topic(TopicArn=topic)


STREAM_HANDLER = '''
def handler(event, context):
    for record in event["Records"]:
        print("GOT " + record["eventName"] + " " + record["dynamodb"]["Keys"]["pk"]["S"])
    return {}
'''


@pytest.fixture
def mapped_stream(slow_poll_localstack):
    """``(table, log_group)``: a table whose stream records a function prints, with the mapping
    enabled and its first record handled, so its poller now sleeps."""
    ls = slow_poll_localstack
    lam, ddb, logs = ls.client("lambda"), ls.client("dynamodb"), ls.client("logs")
    name = unique("lsh-push-stream")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                        Handler="index.handler",
                        Code={"ZipFile": make_zip({"index.py": STREAM_HANDLER})}, Timeout=10)
    assert wait_for_function_state(lam, name)["State"] == "Active"
    stream_arn = ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    mapping = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=name,
                                              StartingPosition="TRIM_HORIZON", BatchSize=10)
    try:
        eventually(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"]
                   == "Enabled", timeout=30, description="the event source mapping is enabled")
        ddb.put_item(TableName=name, Item={"pk": {"S": "first"}})  # by push or by poll
        wait_for_log_line(logs, f"/aws/lambda/{name}", "GOT INSERT first", timeout=DEADLINE_S)
        yield name, f"/aws/lambda/{name}"
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
        lam.delete_function(FunctionName=name)
        ddb.delete_table(TableName=name)


def test_put_item_wakes_the_sleeping_stream_poller(slow_poll_localstack, mapped_stream):
    table, group = mapped_stream
    ddb, logs = slow_poll_localstack.client("dynamodb"), slow_poll_localstack.client("logs")
    for i in range(3):  # each one finds the poller asleep for 600 s
        key = f"put-{i}-{uuid.uuid4().hex[:6]}"
        ddb.put_item(TableName=table, Item={"pk": {"S": key}})
        wait_for_log_line(logs, group, f"GOT INSERT {key}", timeout=DEADLINE_S)


def test_every_kind_of_write_wakes_the_sleeping_stream_poller(slow_poll_localstack,
                                                               mapped_stream):
    """UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems append stream records too."""
    table, group = mapped_stream
    ddb, logs = slow_poll_localstack.client("dynamodb"), slow_poll_localstack.client("logs")
    key = f"kinds-{uuid.uuid4().hex[:6]}"
    writes = [
        (lambda: ddb.update_item(TableName=table, Key={"pk": {"S": key}},
                                 UpdateExpression="SET n = :n",
                                 ExpressionAttributeValues={":n": {"N": "1"}}),
         f"GOT INSERT {key}"),
        (lambda: ddb.update_item(TableName=table, Key={"pk": {"S": key}},
                                 UpdateExpression="SET n = :n",
                                 ExpressionAttributeValues={":n": {"N": "2"}}),
         f"GOT MODIFY {key}"),
        (lambda: ddb.delete_item(TableName=table, Key={"pk": {"S": key}}), f"GOT REMOVE {key}"),
        (lambda: ddb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"pk": {"S": f"{key}-batch"}}}}]}),
         f"GOT INSERT {key}-batch"),
        (lambda: ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": f"{key}-tx"}}}}]),
         f"GOT INSERT {key}-tx"),
    ]
    for write, line in writes:
        write()
        wait_for_log_line(logs, group, line, timeout=DEADLINE_S)


def test_a_fifo_group_visible_again_after_its_batch_wakes_the_poller(slow_poll_localstack):
    """A FIFO group's next message becomes receivable when the batch before it is deleted, not
    when it is put: that also wakes the poller (BatchSize 1: two messages, two batches)."""
    ls = slow_poll_localstack
    lam, sqs, logs = ls.client("lambda"), ls.client("sqs"), ls.client("logs")
    name = unique("lsh-push-fifo")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                        Handler="index.handler", Code={"ZipFile": make_zip({"index.py": HANDLER})},
                        Timeout=10)
    assert wait_for_function_state(lam, name)["State"] == "Active"
    url = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    group = f"/aws/lambda/{name}"
    try:
        eventually(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"]
                   == "Enabled", timeout=30, description="the event source mapping is enabled")
        sqs.send_message(QueueUrl=url, MessageBody="first", MessageGroupId="g")
        wait_for_log_line(logs, group, "GOT first", timeout=DEADLINE_S)
        bodies = [f"fifo-{i}-{uuid.uuid4().hex[:6]}" for i in range(2)]
        # one request: both puts come before the poller runs, so their wakes are one
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": body, "MessageGroupId": "g"}
            for i, body in enumerate(bodies)])
        for body in bodies:
            wait_for_log_line(logs, group, f"GOT {body}", timeout=DEADLINE_S)
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
        lam.delete_function(FunctionName=name)
        sqs.delete_queue(QueueUrl=url)


def load_plugin_module():
    spec = importlib.util.spec_from_file_location("lsh_esm_push_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_wake_ends_one_sleep_and_is_not_lost_while_the_worker_is_busy():
    """No busy loop: a wake ends one wait (also one that starts after it); the next one sleeps."""
    event = load_plugin_module().WakeableEvent()
    event.wake()  # comes while the worker polls: kept
    assert event.wait(600) is False and event.wakes == 1  # returns at once, not shut down
    ended = threading.Event()

    def sleeper():
        event.wait(600)
        ended.set()

    thread = threading.Thread(target=sleeper, daemon=True)
    thread.start()
    assert not ended.wait(0.2)  # nothing pending: it sleeps
    event.set()  # the shutdown flag still ends a sleep at once and reads True
    thread.join(DEADLINE_S)
    assert ended.is_set() and event.is_set() and event.wait(0) is True
    event.clear()
    assert event.wait(0) is False and event.wakes == 1


def test_a_wake_right_after_a_poll_waits_for_the_minimum_gap():
    """Under a burst of sends the poller still receives at most once per ``min_gap``."""
    import time

    event = load_plugin_module().WakeableEvent(min_gap=0.3)
    event.wait(0)  # a poll has just ended
    event.wake()
    started = time.monotonic()
    assert event.wait(600) is False and event.wakes == 1
    assert time.monotonic() - started >= 0.29  # not before the gap (float rounding aside)
