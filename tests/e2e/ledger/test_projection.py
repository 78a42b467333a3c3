"""The projection's failure path (DLQ with its reason, the stream moves on) and the rebuild of the
read model by replaying the bus's archive."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from harness.faults import Fault
from harness.probes import peek_messages, wait_for_log_line
from harness.replay import replay_archive
from harness.streams import StreamProbe
from harness.waits import eventually
from tests.e2e.ledger.client import folded_event_store, read_model_views, scan_all


def account() -> str:
    return f"account-{uuid.uuid4().hex[:10]}"


def test_a_projection_that_keeps_failing_ends_in_the_dlq_and_the_stream_moves_on(
        localstack, stack, ledger, lambda_faults):
    poison, other = account(), account()
    function = stack.outputs["ProjectionHandlerFunction"]
    probe = StreamProbe(localstack.client("dynamodbstreams"), stack.outputs["EventStoreStreamArn"])
    lambda_faults.inject(function, Fault.raise_error(f"projection refused {poison}",
                                                     when_contains=poison))
    ledger.create(poison)

    def letter_for_poison() -> dict:
        for message in peek_messages(ledger.sqs, stack.outputs["ProjectionDlqUrl"]):
            body = json.loads(message["Body"])
            info = body["DDBStreamBatchInfo"]
            if probe.at(info["shardId"], info["startSequenceNumber"]).keys.get(
                    "AggregateId") == poison:
                return body
        raise AssertionError(f"no DLQ message for {poison} yet")

    letter = eventually(letter_for_poison, timeout=60, description=f"{poison} in the DLQ")
    assert letter["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert letter["requestContext"]["approximateInvokeCount"] == 2  # the try and one retry
    assert letter["responseContext"]["functionError"] == "Unhandled"
    assert letter["DDBStreamBatchInfo"]["batchSize"] == 1
    # the reason, in the function's log
    wait_for_log_line(localstack.client("logs"), f"/aws/lambda/{function}",
                      f"projection refused {poison}", timeout=30)

    ledger.create(other)
    ledger.transact(other, "deposit", 5, "tx-after-poison")
    assert ledger.wait_projected(other, 2)["balance"] == 5
    assert ledger.view(poison) is None


def test_a_replay_rebuilds_an_emptied_read_model_and_a_second_one_changes_nothing(
        localstack, stack, ledger):
    mine = [account(), account()]
    for acc in mine:
        ledger.create(acc)
        ledger.transact(acc, "deposit", "120.40", "tx-1")
        ledger.transact(acc, "withdrawal", "20.15", "tx-2")
    for acc in mine:  # the stream's projection is done with them before the read model is emptied
        ledger.wait_projected(acc, 3)
    expected = folded_event_store(ledger)

    for item in scan_all(ledger.read_model):
        ledger.read_model.delete_item(Key={"AggregateId": item["AggregateId"]})
    assert scan_all(ledger.read_model) == []

    since = datetime.now(UTC) - timedelta(hours=1)
    first = replay_archive(ledger.events, stack.outputs["EventArchive"],
                           stack.outputs["EventBusName"], since=since, timeout=60)
    assert first.state == "COMPLETED"
    # 150 s: room for an asynchronous invocation LocalStack holds back (timeout 30 + 60 s)
    eventually(lambda: read_model_views(ledger) == expected, timeout=150,
               description="the read model rebuilt from the replay",
               diagnose=lambda: f"{len(read_model_views(ledger))} of {len(expected)} accounts")

    second = replay_archive(ledger.events, stack.outputs["EventArchive"],
                            stack.outputs["EventBusName"], since=since, timeout=60)
    logs = localstack.client("logs")
    group = f"/aws/lambda/{stack.outputs['ProjectionHandlerFunction']}"
    events_count = sum(1 for _ in scan_all(ledger.event_store))

    def second_replay_projected() -> int:
        lines = logs.filter_log_events(logGroupName=group, filterPattern=f'"{second.name}"')
        seen = sum(second.name in e["message"] for e in lines["events"])
        assert seen >= events_count, f"{seen} of {events_count} replayed events projected"
        return seen

    eventually(second_replay_projected, timeout=150, description="the second replay projected")
    assert read_model_views(ledger) == expected
