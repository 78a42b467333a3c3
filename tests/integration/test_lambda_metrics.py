"""Lambda's ``AWS/Lambda`` ``Invocations`` and ``Errors`` metrics still land in CloudWatch when
``lsh_localstack_plugins.lambda_metrics`` publishes them in batches (once a second) instead of
one thread and one ``PutMetricData`` per invocation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from harness.waits import eventually

pytestmark = pytest.mark.integration

CODE = '''
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
'''


def _sum(cloudwatch, function_name: str, metric: str) -> tuple[float, float]:
    """(Sum, SampleCount) of ``metric`` for ``function_name`` over the last 10 minutes."""
    now = datetime.now(timezone.utc)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": function_name}],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1),
        Period=3600, Statistics=["Sum", "SampleCount"])["Datapoints"]
    return (sum(p["Sum"] for p in points), sum(p["SampleCount"] for p in points))


def test_invocations_and_errors_are_counted(localstack, create_function, invoke_function):
    name = create_function({"index.py": CODE})
    for _ in range(3):
        assert invoke_function(name, {}).function_error is None
    assert invoke_function(name, {"fail": True}).function_error == "Unhandled"
    cloudwatch = localstack.client("cloudwatch")

    def counted():
        invocations, errors = _sum(cloudwatch, name, "Invocations"), _sum(cloudwatch, name, "Errors")
        return (invocations, errors) if invocations[0] >= 4 and errors[0] >= 1 else None

    invocations, errors = eventually(counted, 30, description="Lambda metrics in CloudWatch")
    assert invocations == (4.0, 4.0)  # 3 successes and the failure, each one data point
    assert errors == (1.0, 1.0)
