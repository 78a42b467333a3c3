"""Ready-made waits for common AWS effects, on :func:`harness.waits.eventually`.

Each takes a boto3 client (from ``localstack.client(...)``) and returns what it waited for, or
raises :class:`harness.waits.EventuallyTimeout` saying what it last saw. Asyncio twins run the
same waits in a worker thread (``await wait_for_item_async(...)``).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable

from harness.changes import call_not_a_change
from harness.waits import DEFAULT_POLICY, Policy, eventually

#: polls that cost a request each: the default policy (fast at first, <= ~20 requests/s)
ITEM_POLICY = DEFAULT_POLICY
#: SQS long polling: one request waits up to a second server-side, so no backoff is needed
MESSAGE_POLICY = Policy(timeout=DEFAULT_POLICY.timeout, initial=0.0, cap=0.0, jitter=0.0,
                        feed_interval=0.0)


def queue_depth(sqs, queue_url: str) -> dict[str, int]:
    """``{"visible": n, "in_flight": m}``: a queue's approximate counts, read without receiving
    (a receive would count against the queue's redrive policy)."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return {"visible": int(attrs["ApproximateNumberOfMessages"]),
            "in_flight": int(attrs["ApproximateNumberOfMessagesNotVisible"])}


#: how long a peek hides what it has read (it shows it all again as soon as it is done)
PEEK_HIDE_S = 30
#: how many messages a peek reads at most
PEEK_LIMIT = 1000


def peek_messages(sqs, queue_url: str, limit: int = PEEK_LIMIT) -> list[dict]:
    """The messages waiting on ``queue_url`` (up to ``limit``, with all attributes), not taken.

    Each message is received once and made visible again at once: the receives hide them for
    ``PEEK_HIDE_S`` s so that each returns the next ones (with ``VisibilityTimeout=0`` LocalStack
    returns the same oldest ten every time, AWS a sample), then one
    ``ChangeMessageVisibilityBatch`` per ten shows them again, also when a receive fails. Each
    peek adds one to every message's ``ApproximateReceiveCount``; meant for queues nobody
    consumes while it looks (DLQs), as another consumer misses them for those few ms.
    """
    found: dict[str, dict] = {}
    hidden: list[dict] = []
    try:
        while len(found) < limit:
            batch = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=min(10, limit - len(found)),
                VisibilityTimeout=PEEK_HIDE_S, AttributeNames=["All"],
                MessageAttributeNames=["All"]).get("Messages", [])
            hidden.extend(batch)
            new = [m for m in batch if m["MessageId"] not in found]
            found.update((m["MessageId"], m) for m in new)
            if not new:
                break
    finally:
        for start in range(0, len(hidden), 10):  # an undo: not a change for waiting checks
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                       for i, m in enumerate(hidden[start:start + 10])]
            call_not_a_change(sqs, "change_message_visibility_batch", QueueUrl=queue_url,
                              Entries=entries)
    return list(found.values())


def wait_for_message(sqs, queue_url: str, predicate: Callable[[dict], bool],
                     timeout: float | None = None, delete: bool = True) -> dict:
    """The first message on ``queue_url`` for which ``predicate(message)`` holds.

    Other messages are not stolen: each one received that does not match is made visible again
    at once (``ChangeMessageVisibility`` 0), so other tests and consumers still get it. The
    matching one is deleted unless ``delete=False``.
    """
    def receive() -> dict | None:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1, AttributeNames=["All"],
                                       MessageAttributeNames=["All"]).get("Messages", [])
        found = None
        for message in messages:
            if found is None and predicate(message):
                found = message
                if delete:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            call_not_a_change(sqs, "change_message_visibility", QueueUrl=queue_url,  # an undo
                              ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        assert found is not None, f"{len(messages)} message(s) received, none matching"
        return found

    return eventually(receive, timeout, policy=MESSAGE_POLICY,
                      description=f"a matching message on {queue_url.rsplit('/', 1)[-1]}")


def wait_for_item(dynamodb, table: str, key: dict[str, Any],
                  predicate: Callable[[dict], bool] | None = None,
                  timeout: float | None = None) -> dict:
    """The item at ``key`` (low-level attribute-value form, e.g. ``{"pk": {"S": "a"}}``) once
    it exists and ``predicate(item)`` holds."""
    def read() -> dict:
        item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        assert item is not None, f"no item at {key}"
        assert predicate is None or predicate(item), f"item is {item}"
        return item

    return eventually(read, timeout, policy=ITEM_POLICY, description=f"item {key} in {table}")


def wait_for_log_line(logs, group: str, text: str, timeout: float | None = None,
                      since: float | None = None) -> dict:
    """The first CloudWatch Logs event in ``group`` containing ``text`` (exactly; LocalStack's
    filter patterns match loosely, so each line is checked), logged after ``since`` (epoch s)."""
    start = int((since if since is not None else 0) * 1000)

    def search() -> dict:
        try:
            events = logs.filter_log_events(logGroupName=group, startTime=start,
                                            filterPattern=f'"{text}"').get("events", [])
        except logs.exceptions.ResourceNotFoundException:
            raise AssertionError(f"no log group {group} yet") from None
        matching = [e for e in events if text in e["message"]]
        assert matching, f"{len(events)} candidate line(s), none containing {text!r}"
        return matching[0]

    return eventually(search, timeout, policy=Policy(initial=0.05, cap=0.25),
                      description=f"log line {text!r} in {group}")


def wait_for_execution(sfn, execution_arn: str, timeout: float | None = None) -> dict:
    """The Step Functions execution's description once it is no longer RUNNING."""
    def ended() -> dict:
        desc = sfn.describe_execution(executionArn=execution_arn)
        assert desc["status"] != "RUNNING", "still RUNNING"
        return desc

    return eventually(ended, timeout, policy=Policy(initial=0.05, cap=0.25),
                      description=f"execution {execution_arn.rsplit(':', 1)[-1]} ends")


def _async_twin(fn: Callable) -> Callable:
    @functools.wraps(fn)
    async def twin(*args, **kwargs):
        return await asyncio.to_thread(fn, *args, **kwargs)

    twin.__name__ = f"{fn.__name__}_async"
    twin.__doc__ = f"Asyncio twin of :func:`{fn.__name__}` (runs it in a worker thread)."
    return twin


wait_for_message_async = _async_twin(wait_for_message)
wait_for_item_async = _async_twin(wait_for_item)
wait_for_log_line_async = _async_twin(wait_for_log_line)
wait_for_execution_async = _async_twin(wait_for_execution)

__all__ = ["wait_for_message", "wait_for_item", "wait_for_log_line", "wait_for_execution",
           "wait_for_message_async", "wait_for_item_async", "wait_for_log_line_async",
           "wait_for_execution_async"]
