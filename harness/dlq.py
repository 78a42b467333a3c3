"""Dead-letter queues: find a queue's DLQ, inject poison, wait for it there, explain it, redrive.

General: works for any SQS queue with a redrive policy, not just the reference pipeline's.
Reading a DLQ never steals its messages: what a peek receives is made visible again as soon as
it has read the queue (a few ms), so every other reader still gets them. Each such receive adds
one to the message's ``ApproximateReceiveCount`` (which a message keeps when it is moved to the
DLQ); this object counts its own receives and reports the count the message had before it
started looking.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from harness.changes import call_not_a_change
from harness.errors import HarnessError
from harness.localstack.base import LocalStack
from harness.probes import peek_messages, queue_depth
from harness.waits import Policy, eventually

DLQ_POLICY = Policy(timeout=60.0, initial=0.05, cap=0.25)


@dataclass
class DeadLetter:
    message_id: str
    body: str
    receive_count: int
    attributes: dict


def queue_arn(sqs, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def url_of_arn(sqs, arn: str) -> str:
    account, name = arn.split(":")[4], arn.split(":")[5]
    return sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


class DeadLetterQueue:
    """The DLQ of ``source_url``, found from the source's redrive policy."""

    def __init__(self, localstack: LocalStack, source_url: str):
        self.sqs = localstack.client("sqs")
        self.logs = localstack.client("logs")
        self.source_url = source_url
        attrs = self.sqs.get_queue_attributes(QueueUrl=source_url,
                                              AttributeNames=["RedrivePolicy", "QueueArn"])[
            "Attributes"]
        if "RedrivePolicy" not in attrs:
            raise HarnessError(f"queue {source_url} has no redrive policy, so no DLQ: give it one "
                               "(deadLetterTargetArn and maxReceiveCount)")
        policy = json.loads(attrs["RedrivePolicy"])
        self.source_arn = attrs["QueueArn"]
        self.arn = policy["deadLetterTargetArn"]
        self.max_receive_count = int(policy["maxReceiveCount"])
        self.url = url_of_arn(self.sqs, self.arn)
        self._own_receives: Counter[str] = Counter()

    # --- poison in ---
    def inject(self, body: str | None = None, **attributes: str) -> tuple[str, str]:
        """Send a poison message (default: a marked non-JSON body) to the source queue.

        Returns ``(message_id, marker)``; the marker is in the body, to find it again.
        """
        marker = f"lsh-poison-{uuid.uuid4().hex[:12]}"
        body = body if body is not None else f"<<not an event: {marker}>>"
        if marker not in body:
            marker = body
        extra = {"MessageAttributes": {k: {"DataType": "String", "StringValue": v}
                                       for k, v in attributes.items()}} if attributes else {}
        message_id = self.sqs.send_message(QueueUrl=self.source_url, MessageBody=body,
                                           **extra)["MessageId"]
        return message_id, marker

    # --- what is in it ---
    def peek(self) -> list[DeadLetter]:
        """The DLQ's messages (up to ``harness.probes.PEEK_LIMIT``), without taking them
        (:func:`harness.probes.peek_messages`).

        ``receive_count`` is how often the message was received before this object looked.
        """
        letters = []
        for m in peek_messages(self.sqs, self.url):
            self._own_receives[m["MessageId"]] += 1
            reported = int(m["Attributes"]["ApproximateReceiveCount"])
            letters.append(DeadLetter(m["MessageId"], m["Body"],
                                      reported - self._own_receives[m["MessageId"]],
                                      m["Attributes"]))
        return letters

    def wait_for(self, match: str | Callable[[DeadLetter], bool],
                 timeout: float | None = None) -> DeadLetter:
        """Wait until a message matching ``match`` (a message id, a text in the body, or a
        predicate) is in the DLQ; return it."""
        def matches(letter: DeadLetter) -> bool:
            if callable(match):
                return match(letter)
            return letter.message_id == match or match in letter.body

        def landed() -> DeadLetter | None:
            return next((d for d in self.peek() if matches(d)), None)

        return eventually(landed, timeout, policy=DLQ_POLICY,
                          description=f"message {match if isinstance(match, str) else ''} in DLQ "
                                      f"{self.arn.rsplit(':', 1)[-1]}",
                          diagnose=self.describe)

    def describe(self) -> str:
        depth = queue_depth(self.sqs, self.source_url)
        letters = self.peek()
        return (f"source queue: {depth['visible']} visible, "
                f"{depth['in_flight']} in flight; DLQ holds "
                f"{len(letters)} message(s): "
                + ", ".join(f"{d.message_id[:8]} ({d.body[:40]!r})" for d in letters[:5]))

    def assert_receive_count(self, letter: DeadLetter) -> None:
        """It was received (by its consumers) ``maxReceiveCount`` times before it was moved."""
        assert letter.receive_count >= self.max_receive_count, (
            f"message {letter.message_id} reached the DLQ after {letter.receive_count} receives; "
            f"the redrive policy says {self.max_receive_count}")

    def reasons(self, function_name: str, message_id: str, phrase: str = "") -> list[str]:
        """The log lines a consumer (a Lambda function) wrote about this message id."""
        kwargs = {"logGroupName": f"/aws/lambda/{function_name}",
                  "filterPattern": f'"{message_id}"'}
        lines = []
        while True:
            page = self.logs.filter_log_events(**kwargs)
            # LocalStack's filter patterns match loosely: keep lines that really name the id
            lines += [e["message"].strip() for e in page.get("events", [])
                      if message_id in e["message"] and phrase in e["message"]]
            if not page.get("nextToken"):
                return lines
            kwargs["nextToken"] = page["nextToken"]

    # --- out again ---
    def drain(self) -> list[DeadLetter]:
        """Take every message out of the DLQ (deleted); return them."""
        taken = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                             AttributeNames=["All"]).get("Messages", [])
            if not batch:
                return taken
            taken += [DeadLetter(m["MessageId"], m["Body"],
                                 int(m["Attributes"]["ApproximateReceiveCount"]), m["Attributes"])
                      for m in batch]
            self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])

    def redrive(self, where: Callable[[DeadLetter], bool] | None = None) -> int:
        """Move messages (all, or those ``where`` selects) back to the source queue; return how
        many. Each is sent to the source before it is deleted from the DLQ, so none is lost."""
        moved = 0
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                             AttributeNames=["All"], VisibilityTimeout=30,
                                             MessageAttributeNames=["All"]).get("Messages", [])
            if not batch:
                return moved
            keep = []
            for m in batch:
                letter = DeadLetter(m["MessageId"], m["Body"],
                                    int(m["Attributes"]["ApproximateReceiveCount"]), m["Attributes"])
                if where is not None and not where(letter):
                    keep.append(m)
                    continue
                extra = {"MessageAttributes": m["MessageAttributes"]} if m.get(
                    "MessageAttributes") else {}
                self.sqs.send_message(QueueUrl=self.source_url, MessageBody=m["Body"], **extra)
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
                moved += 1
            for m in keep:  # not ours to move: make them visible again at once
                call_not_a_change(self.sqs, "change_message_visibility", QueueUrl=self.url,
                                  ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            if keep and len(keep) == len(batch):
                return moved
