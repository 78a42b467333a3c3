"""Virtual time for Step Functions (lsh_localstack_plugins.sfn_time): retries and waits scaled."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from harness.stepfunctions import get_time_scale, time_scale, wait_for_path
from tests.integration.test_stepfunctions_helpers import (FLAKY, create_state_machine,  # noqa: F401
                                                          function_arn, sfn, start)


def task_with_retry(fn: str, **retry) -> dict:
    return {"StartAt": "Charge", "States": {"Charge": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": fn, "Payload.$": "$"}, "End": True,
        "Retry": [{"ErrorEquals": ["States.ALL"], **retry}]}}}


def test_a_two_second_backoff_over_three_attempts_runs_in_milliseconds(
        localstack, sfn, create_state_machine, create_function, lambda_client):
    fn = function_arn(lambda_client, create_function(FLAKY))
    machine = create_state_machine(task_with_retry(fn, IntervalSeconds=2, BackoffRate=2.0,
                                                   MaxAttempts=2))  # waits 2 s, then 4 s
    with time_scale(localstack, 0.001):
        started = time.monotonic()
        path = wait_for_path(sfn, start(sfn, machine, {"fail": "always"}))
        took = time.monotonic() - started
    path.assert_status("FAILED").assert_attempts(Charge=3)
    assert took < 3.0, f"took {took:.2f} s: the 6 s of backoff were not scaled"
    assert [e["error"] for e in path.runs[0].errors] == ["ValueError"] * 3


def test_max_delay_caps_the_backoff_before_it_is_scaled(
        localstack, sfn, create_state_machine, create_function, lambda_client):
    fn = function_arn(lambda_client, create_function(FLAKY))
    # 10 s, then 100 s capped to 20 s; at 0.05: 0.5 s then 1.0 s (uncapped: 5 s)
    machine = create_state_machine(task_with_retry(fn, IntervalSeconds=10, BackoffRate=10.0,
                                                   MaxAttempts=2, MaxDelaySeconds=20))
    with time_scale(localstack, 0.05):
        path = wait_for_path(sfn, start(sfn, machine, {"fail": "always"}))
    gaps = path.runs[0].retry_gaps
    assert len(gaps) == 2, path.describe()
    assert 0.5 <= gaps[0] < 2.5 and 1.0 <= gaps[1] < 3.5, gaps


def wait_machine(wait: dict) -> dict:
    return {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Next": "Done", **wait},
                                         "Done": {"Type": "Succeed"}}}


def nap_seconds(path) -> float:
    nap = path.runs_of("Nap")[0]
    done = path.runs_of("Done")[0]
    return (done.entered_at - nap.entered_at).total_seconds()


@pytest.mark.parametrize("wait", [
    {"Seconds": 60},
    {"SecondsPath": "$.seconds"},
    {"TimestampPath": "$.at"},
], ids=["Seconds", "SecondsPath", "TimestampPath"])
def test_wait_states_are_scaled(localstack, sfn, create_state_machine, wait):
    machine = create_state_machine(wait_machine(wait))
    at = (datetime.now(timezone.utc) + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with time_scale(localstack, 0.001):
        path = wait_for_path(sfn, start(sfn, machine, {"seconds": 60, "at": at}), timeout=20)
    path.assert_status("SUCCEEDED").assert_states(["Nap", "Done"])
    assert nap_seconds(path) < 2.0, path.describe()


def test_real_time_again_after_the_block(localstack, sfn, create_state_machine):
    machine = create_state_machine(wait_machine({"Seconds": 1}))
    with time_scale(localstack, 0.001):
        pass
    assert get_time_scale(localstack) == 1.0
    path = wait_for_path(sfn, start(sfn, machine, {}), timeout=20)
    assert nap_seconds(path) >= 0.95, path.describe()


def test_a_bad_scale_is_refused_with_the_fix(localstack):
    request = urllib.request.Request(localstack.endpoint_url + "/_lsh/sfn/time-scale",
                                     method="PUT", data=json.dumps({"scale": 0}).encode())
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert "scale" in json.loads(caught.value.read())["error"]
    with pytest.raises(ValueError, match="use 1 for real time"):
        with time_scale(localstack, -1):
            pass
