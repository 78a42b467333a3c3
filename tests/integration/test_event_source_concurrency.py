"""Our LocalStack patches for throughput: SQS event sources run batches at once, SQS metrics batched.

See docs/localstack-divergences.md and ``lsh_localstack_plugins.patches``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from harness.probes import queue_depth
from harness.waits import eventually

pytestmark = pytest.mark.integration

SLOW_HANDLER = '''
import json, os, time

def handler(event, context):
    start = time.time()
    time.sleep(1.5)
    for record in event["Records"]:
        print("WINDOW " + json.dumps({"id": json.loads(record["body"])["id"], "start": start,
                                       "end": time.time(),
                                       "env": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}))
    return {}
'''


def windows(logs_client, name: str, count: int) -> list[dict] | None:
    try:
        events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except logs_client.exceptions.ResourceNotFoundException:
        return None
    found = [json.loads(line.split("WINDOW ", 1)[1])
             for e in events for line in e["message"].splitlines() if "WINDOW " in line]
    return found if len(found) >= count else None


def most_at_once(found: list[dict]) -> int:
    edges = sorted([(w["start"], 1) for w in found] + [(w["end"], -1) for w in found])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_sqs_event_source_runs_two_batches_at_once(create_function, create_queue, lambda_client,
                                                   sqs_client, logs_client):
    """LocalStack alone runs one batch at a time per mapping; AWS several: ours runs 2."""
    queue_url, queue_arn = create_queue("lsh-conc", VisibilityTimeout="30")
    name = create_function(SLOW_HANDLER)
    mapping = lambda_client.create_event_source_mapping(EventSourceArn=queue_arn,
                                                        FunctionName=name, BatchSize=1)
    try:
        eventually(lambda: lambda_client.get_event_source_mapping(UUID=mapping["UUID"])["State"]
                   == "Enabled", timeout=30, description="the event source mapping is enabled")
        ids = [uuid.uuid4().hex[:8] for _ in range(4)]
        for i in ids:
            sqs_client.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"id": i}))

        found = eventually(lambda: windows(logs_client, name, len(ids)), timeout=60,
                           description="every message handled")
        assert sorted(w["id"] for w in found) == sorted(ids)  # each once
        assert most_at_once(found) == 2, found  # two batches at once, never more
        assert len({w["env"] for w in found}) >= 2  # in two execution environments
        eventually(lambda: queue_depth(sqs_client, queue_url) == {"visible": 0, "in_flight": 0},
                   timeout=30, description="every message deleted")
    finally:
        lambda_client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_sqs_metrics_still_reach_cloudwatch(create_queue, sqs_client, localstack):
    """Published once a second instead of per call: the same sums and sample counts."""
    queue_url, _ = create_queue("lsh-metrics")
    queue_name = queue_url.rsplit("/", 1)[1]
    for body in ("a", "bb", "ccc"):
        sqs_client.send_message(QueueUrl=queue_url, MessageBody=body)
    cloudwatch = localstack.client("cloudwatch")

    def stats(metric: str) -> dict | None:
        now = dt.datetime.now(dt.timezone.utc)
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS", MetricName=metric,
            Dimensions=[{"Name": "QueueName", "Value": queue_name}],
            StartTime=now - dt.timedelta(minutes=10), EndTime=now + dt.timedelta(minutes=1),
            Period=3600, Statistics=["Sum", "SampleCount"])["Datapoints"]
        return points[0] if points and points[0]["SampleCount"] >= 3 else None

    sent = eventually(lambda: stats("NumberOfMessagesSent"), timeout=15,
                      description="NumberOfMessagesSent in CloudWatch")
    assert (sent["Sum"], sent["SampleCount"]) == (3, 3)
    size = eventually(lambda: stats("SentMessageSize"), timeout=15,
                      description="SentMessageSize in CloudWatch")
    assert (size["Sum"], size["SampleCount"]) == (6, 3)
