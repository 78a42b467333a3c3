"""Taps: see every message that crosses a topic or an event bus, in order, for assertions,
without taking anything from the app's own subscribers or targets."""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable

from harness.localstack.base import LocalStack
from harness.waits import Policy, eventually

#: how often a tap is read while waiting (woken sooner by the change feed)
TAP_POLICY = Policy(timeout=30.0, initial=0.01, cap=0.1)


class TopicTap:
    """A queue subscribed (raw delivery) to an SNS topic: every message published there, kept.

    Reading it never takes messages from the topic's own subscribers. A tap sees what is
    published after it is made; :class:`harness.sns_log.SnsPublishLog` also sees what came before.
    """

    def __init__(self, localstack: LocalStack, topic_arn: str):
        self.sqs = localstack.client("sqs")
        self.sns = localstack.client("sns")
        self.queue_url = self.sqs.create_queue(QueueName=f"lsh-tap-{uuid.uuid4().hex[:8]}")[
            "QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.subscription = self.sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True)[
            "SubscriptionArn"]
        self.bodies: list[str] = []

    def drain(self) -> list[str]:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url,
                                                MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return self.bodies
            self.bodies += [m["Body"] for m in messages]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])

    def matching(self, predicate: Callable[[str], bool]) -> list[str]:
        return [body for body in self.drain() if predicate(body)]

    def wait_for(self, predicate: Callable[[str], bool], timeout: float | None = None,
                 description: str = "a matching message") -> list[str]:
        return eventually(lambda: self.matching(predicate), timeout, policy=TAP_POLICY,
                          description=description)

    def close(self) -> None:
        self.sns.unsubscribe(SubscriptionArn=self.subscription)
        self.sqs.delete_queue(QueueUrl=self.queue_url)


#: an EventBridge pattern every event matches (each event has a string ``source``)
ALL_EVENTS = {"source": [{"prefix": ""}]}
_TAP_TARGET_ID = "lsh-bus-tap"


class BusTap:
    """Every event put on an EventBridge bus after the tap is made, kept in the order the bus
    handled them (``events``: the full envelopes, ``id``, ``source``, ``detail-type``,
    ``detail``, ...).

    The tap is one more rule on the bus (``bus``: a name or an ARN; ``pattern``: default
    :data:`ALL_EVENTS`, or any event pattern to keep only what it matches) whose target is a
    FIFO queue of its own (one message group, so order is kept); a bus hands an event to every
    matching rule, so the app's own rules and targets see the same events as before. A second
    delivery of the same event within 5 minutes is kept once (the queue's deduplication).
    Use as a context manager, or call :meth:`close` to remove the rule and the queue.
    """

    def __init__(self, localstack: LocalStack, bus: str = "default",
                 pattern: dict[str, Any] | None = None):
        self.bus = bus
        self.sqs = localstack.client("sqs")
        self.eventbridge = localstack.client("events")
        self.name = f"lsh-tap-{uuid.uuid4().hex[:8]}"
        self.queue_url = self.sqs.create_queue(
            QueueName=f"{self.name}.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.rule_arn = self.eventbridge.put_rule(
            Name=self.name, EventBusName=bus, EventPattern=json.dumps(pattern or ALL_EVENTS),
            State="ENABLED", Description="harness BusTap: events in order")["RuleArn"]
        self.sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={
            "Policy": json.dumps(_queue_policy(queue_arn, self.rule_arn))})
        self.eventbridge.put_targets(Rule=self.name, EventBusName=bus, Targets=[{
            "Id": _TAP_TARGET_ID, "Arn": queue_arn,
            "SqsParameters": {"MessageGroupId": _TAP_TARGET_ID}}])
        self.events: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        """Move what the queue holds into ``events``; return all events seen so far."""
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url,
                                                MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return self.events
            self.events += [json.loads(m["Body"]) for m in messages]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)])

    def matching(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [event for event in self.drain() if predicate(event)]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float | None = None,
                 description: str = "a matching event", count: int = 1) -> list[dict[str, Any]]:
        """The matching events, once there are at least ``count`` of them."""
        def enough() -> list[dict[str, Any]]:
            found = self.matching(predicate)
            assert len(found) >= count, f"{len(found)} of {count} on bus {self.bus}"
            return found

        return eventually(enough, timeout, policy=TAP_POLICY, description=description)

    def close(self) -> None:
        self.eventbridge.remove_targets(Rule=self.name, EventBusName=self.bus,
                                        Ids=[_TAP_TARGET_ID])
        self.eventbridge.delete_rule(Name=self.name, EventBusName=self.bus)
        self.sqs.delete_queue(QueueUrl=self.queue_url)

    def __enter__(self) -> "BusTap":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _queue_policy(queue_arn: str, rule_arn: str) -> dict[str, Any]:
    """What AWS needs for a rule to send to the queue (LocalStack does not check it)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]}
