"""The ``process`` Lambda runtime executor, end to end through LocalStack's Lambda API.

Every function here runs for real: LocalStack starts an execution environment (a host process
running AWS's ``awslambdaric`` with the function's Python) and the assertions look at what a
client of AWS Lambda would see: invoke results, error shapes, CloudWatch Logs, event sources.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.probes import queue_depth
from harness.waits import eventually

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


ECHO_CONTEXT = '''
import importlib.util, os, sys

def handler(event, context):
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "cwd": os.getcwd(),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
        "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
        "own_var": os.environ.get("LSH_OWN_VAR"),
        "localstack_vars": sorted(k for k in os.environ if k.startswith("LOCALSTACK_RUNTIME")),
        "boto3": importlib.util.find_spec("boto3") is not None,
        "localstack_importable": importlib.util.find_spec("localstack") is not None,
    }
'''


def test_request_response_returns_result_with_lambda_context(create_function, invoke_function):
    name = create_function(ECHO_CONTEXT, Environment={"Variables": {"LSH_OWN_VAR": "kept"}})
    event = {"order": 42, "items": ["a", "b"], "note": "caf\u00e9"}

    result = invoke_function(name, event)

    assert result.status_code == 200
    assert result.function_error is None, result.raw
    body = result.payload
    assert body["event"] == event
    assert body["function_name"] == name
    uuid.UUID(body["request_id"])
    assert 0 < body["remaining_ms"] <= 10_000
    # AWS's runtime contract: code dir as cwd and LAMBDA_TASK_ROOT, runtime API, execution env
    assert body["cwd"] == body["task_root"]
    assert body["execution_env"] == "AWS_Lambda_python3.12"
    assert body["runtime_api"]
    # the function's own variables are kept, LocalStack's internals are not visible
    assert body["own_var"] == "kept"
    assert body["localstack_vars"] == []
    # it runs with the function Python (boto3 like AWS), not inside LocalStack's environment
    assert body["boto3"] is True
    assert body["localstack_importable"] is False
    # a second (warm) invocation gets its own request id and event
    again = invoke_function(name, {"order": 43})
    assert again.payload["event"] == {"order": 43}
    assert again.payload["request_id"] != body["request_id"]


def test_event_invoke_runs_asynchronously_and_can_call_aws(create_function, create_queue,
                                                          lambda_client, sqs_client):
    queue_url, _ = create_queue("lsh-event-out")
    name = create_function('''
import boto3, json

def handler(event, context):
    # boto3 inside the function reaches LocalStack through AWS_ENDPOINT_URL
    boto3.client("sqs").send_message(QueueUrl=event["queue_url"],
                                     MessageBody=json.dumps({"marker": event["marker"]}))
''')
    marker = uuid.uuid4().hex

    response = lambda_client.invoke(FunctionName=name, InvocationType="Event",
                                    Payload=json.dumps({"queue_url": queue_url, "marker": marker}))
    assert response["StatusCode"] == 202

    def message_arrived():
        messages = sqs_client.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1,
                                              MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    assert eventually(message_arrived, timeout=30,
                      description="the async invocation's SQS message") == [{"marker": marker}]


def test_handled_exception_has_aws_error_shape(create_function, invoke_function):
    name = create_function('''
def handler(event, context):
    raise ValueError("bad order %s" % event["order"])
''')

    result = invoke_function(name, {"order": 7})

    assert result.status_code == 200
    assert result.function_error == "Unhandled"
    error = result.payload
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad order 7"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert any("index.py" in frame and "handler" in frame for frame in error["stackTrace"])
    assert "[ERROR] ValueError: bad order 7" in result.log_tail


def test_timeout_is_enforced_and_the_next_invocations_work(create_function, invoke_function):
    name = create_function('''
import time

def handler(event, context):
    print("started", event["marker"])
    time.sleep(event.get("sleep", 0))
    return event["marker"]
''', timeout=1)

    timed_out = invoke_function(name, {"marker": "slow", "sleep": 20})

    assert timed_out.function_error == "Unhandled"
    assert timed_out.payload["errorType"] == "Sandbox.Timedout"
    assert timed_out.payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert timed_out.seconds < 6, "the function timeout (1 s) was not enforced"
    assert "started slow" in timed_out.log_tail
    assert "Task timed out after 1.00 seconds" in timed_out.log_tail

    # the killed runtime is replaced; each later invocation gets its own result
    for marker in ("first", "second", "third"):
        result = invoke_function(name, {"marker": marker})
        assert result.function_error is None, result.raw
        assert result.payload == marker


def test_runtime_crash_is_reported_and_recovered(create_function, invoke_function):
    name = create_function('''
import os

def handler(event, context):
    if event.get("crash"):
        print("about to crash", flush=True)
        os._exit(1)
    return "alive"
''')

    crashed = invoke_function(name, {"crash": True})

    assert crashed.function_error == "Unhandled"
    assert crashed.payload["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 1" in crashed.payload["errorMessage"]
    assert "about to crash" in crashed.log_tail

    recovered = invoke_function(name, {})
    assert recovered.function_error is None, recovered.raw
    assert recovered.payload == "alive"


@pytest.mark.parametrize("code, handler, error_type, message_part", [
    ("import lsh_no_such_module\n\ndef handler(e, c):\n    return 1\n", "index.handler",
     "Runtime.ImportModuleError", "No module named 'lsh_no_such_module'"),
    ("def handler(e, c):\n    return 1\n", "index.not_there",
     "Runtime.HandlerNotFound", "not_there"),
    ("def handler(e, c)\n    return 1\n", "index.handler",
     "Runtime.UserCodeSyntaxError", "Syntax error in module 'index'"),
], ids=["import-error", "missing-handler", "syntax-error"])
def test_init_errors_have_aws_error_shape(create_function, invoke_function, code, handler,
                                          error_type, message_part):
    name = create_function(code, handler=handler)

    for _ in range(2):  # AWS retries the init on every invocation; so must we
        result = invoke_function(name, {})
        assert result.function_error == "Unhandled"
        assert result.payload["errorType"] == error_type
        assert message_part in result.payload["errorMessage"]


def test_function_output_reaches_cloudwatch_logs(create_function, invoke_function, logs_client):
    name = create_function('''
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    print("printed", event["marker"])
    logger.info("logged %s", event["marker"])
    return context.aws_request_id
''')
    marker = uuid.uuid4().hex

    result = invoke_function(name, {"marker": marker})
    request_id = result.payload
    assert f"printed {marker}" in result.log_tail

    def function_logs():
        try:
            events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs_client.exceptions.ResourceNotFoundException:
            return None
        text = "".join(e["message"] for e in events)
        return text if f"logged {marker}" in text else None

    text = eventually(function_logs, timeout=30, description="the function's log events")
    assert f"printed {marker}" in text
    assert f"START RequestId: {request_id}" in text
    assert f"END RequestId: {request_id}" in text
    assert f"REPORT RequestId: {request_id}" in text


def test_layers_are_on_sys_path(create_function, publish_layer, invoke_function):
    first = publish_layer({
        "python/lsh_layer_mod.py": "VALUE = 'from-first-layer'\n",
        "python/lsh_layer_shared.py": "WHO = 'first'\n",
    })
    second = publish_layer({
        "python/lib/python3.12/site-packages/lsh_layer_sitepkg.py": "VALUE = 42\n",
        "python/lsh_layer_shared.py": "WHO = 'second'\n",
    })
    name = create_function('''
import lsh_layer_mod, lsh_layer_shared, lsh_layer_sitepkg

def handler(event, context):
    return [lsh_layer_mod.VALUE, lsh_layer_sitepkg.VALUE, lsh_layer_shared.WHO,
            lsh_layer_mod.__file__]
''', Layers=[first, second])

    result = invoke_function(name, {})

    assert result.function_error is None, result.raw
    value, sitepkg_value, who, module_file = result.payload
    assert value == "from-first-layer"
    assert sitepkg_value == 42
    assert who == "second", "a later layer must win over an earlier one, as in AWS"
    assert module_file.endswith("/python/lsh_layer_mod.py")


def test_unsupported_runtime_fails_with_a_reason(create_function, lambda_client,
                                                 settled_function_config):
    name = create_function({"index.rb": "def handler(event:, context:) = 1\n"},
                           runtime="ruby3.3", expect_active=False)

    config = settled_function_config(name)

    assert config["State"] == "Failed"
    assert "ruby3.3" in config["StateReason"]
    assert "python" in config["StateReason"]
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.invoke(FunctionName=name, Payload=b"{}")


def test_sqs_event_source_redrives_a_failing_message_to_the_dlq(
        create_function, create_queue, lambda_client, sqs_client, logs_client):
    dlq_url, dlq_arn = create_queue("lsh-dlq")
    queue_url, queue_arn = create_queue(
        "lsh-src", VisibilityTimeout="1",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    name = create_function('''
import json

def handler(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        print("processing", body["id"])
        if body.get("poison"):
            raise RuntimeError("cannot process " + body["id"])
    return {}
''')
    mapping = lambda_client.create_event_source_mapping(EventSourceArn=queue_arn,
                                                        FunctionName=name, BatchSize=1)
    try:
        eventually(lambda: lambda_client.get_event_source_mapping(UUID=mapping["UUID"])["State"]
                   == "Enabled", timeout=30, description="the event source mapping is enabled")
        good, poison = unique("good"), unique("poison")
        sqs_client.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"id": good}))
        sqs_client.send_message(QueueUrl=queue_url,
                                MessageBody=json.dumps({"id": poison, "poison": True}))

        def dead_letters():
            messages = sqs_client.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1,
                                                  MaxNumberOfMessages=10).get("Messages", [])
            return [json.loads(m["Body"]) for m in messages]

        assert eventually(dead_letters, timeout=90, description="the poison message in the DLQ") \
            == [{"id": poison, "poison": True}]

        def processing_log():
            try:
                events = logs_client.filter_log_events(
                    logGroupName=f"/aws/lambda/{name}")["events"]
            except logs_client.exceptions.ResourceNotFoundException:
                return None
            text = "".join(e["message"] for e in events)
            return text if text.count(f"processing {poison}") >= 2 else None

        text = eventually(processing_log, timeout=30, description="both attempts in the logs")
        assert f"processing {good}" in text
        assert f"RuntimeError: cannot process {poison}" in text
        # the good message was consumed: nothing is left on the source queue
        eventually(lambda: queue_depth(sqs_client, queue_url) == {"visible": 0, "in_flight": 0},
                   timeout=30, description="the source queue is empty")
    finally:
        lambda_client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_twenty_concurrent_cold_invocations_all_succeed(create_function, invoke_function,
                                                        localstack):
    name = create_function('''
import os, time

def handler(event, context):
    time.sleep(1)
    return {"i": event["i"], "environment": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]}
''')
    count = 20
    clients = [localstack.client("lambda") for _ in range(count)]
    barrier = threading.Barrier(count)

    def call(i):
        barrier.wait()
        return invoke_function(name, {"i": i}, client=clients[i])

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(call, range(count)))
    elapsed = time.perf_counter() - started

    failures = [r.raw for r in results if r.status_code != 200 or r.function_error]
    assert failures == []
    assert [r.payload["i"] for r in results] == list(range(count))
    environments = {r.payload["environment"] for r in results}
    # they ran side by side in separate environments, not one after the other
    assert len(environments) >= count // 2, environments
    assert elapsed < count * 0.75, f"{count} invocations of a 1 s function took {elapsed:.1f} s"
