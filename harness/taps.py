"""Taps: see every message that crosses a topic (and, later, a bus), in order, for assertions,
without taking anything from the app's own subscribers or targets."""

from __future__ import annotations

import uuid
from typing import Callable

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
