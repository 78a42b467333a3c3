"""Node.js functions in the ``process`` Lambda executor, end to end through LocalStack's Lambda API.

Each function runs for real on the machine's ``node`` with our runtime interface client
(``node_runtime.js``) behind the same bridge as the Python functions; the assertions look at what
a client of AWS Lambda sees: results, error shapes, timeouts, CloudWatch Logs, an SQS event
source, and the AWS SDK for JavaScript v3 reaching LocalStack from inside a function.
"""

from __future__ import annotations

import json
import os
import signal
import tarfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.probes import queue_depth
from harness.waits import eventually

pytestmark = pytest.mark.integration

RUNTIME = "nodejs20.x"

ECHO_CONTEXT = """
exports.handler = async (event, context) => {
  console.log('echo', event.marker);
  return {
    event,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    remainingMs: context.getRemainingTimeInMillis(),
    cwd: process.cwd(),
    taskRoot: process.env.LAMBDA_TASK_ROOT,
    executionEnv: process.env.AWS_EXECUTION_ENV,
    runtimeApi: process.env.AWS_LAMBDA_RUNTIME_API,
    ownVar: process.env.LSH_OWN_VAR,
    localstackVars: Object.keys(process.env).filter((k) => k.startsWith('LOCALSTACK_RUNTIME')),
    node: process.versions.node,
  };
};
"""


def create_node_function(create_function, code: str | dict[str, str], **kwargs) -> str:
    files = {"index.js": code} if isinstance(code, str) else code
    kwargs.setdefault("runtime", RUNTIME)
    return create_function(files, **kwargs)


def test_invoke_returns_the_result_with_lambda_context(create_function, invoke_function):
    name = create_node_function(create_function, ECHO_CONTEXT,
                                Environment={"Variables": {"LSH_OWN_VAR": "mine"}})

    result = invoke_function(name, {"marker": "m1"})

    assert result.function_error is None, result.raw
    body = result.payload
    assert body["event"] == {"marker": "m1"}
    assert body["functionName"] == name
    assert body["requestId"] == result.response["ResponseMetadata"]["RequestId"]
    assert 0 < body["remainingMs"] <= 10_000
    assert body["cwd"] == body["taskRoot"]
    assert body["executionEnv"] == "AWS_Lambda_nodejs20.x"
    assert body["runtimeApi"].startswith("127.0.0.1:")
    assert body["ownVar"] == "mine"
    assert body["localstackVars"] == []
    assert f"\t{body['requestId']}\tINFO\techo m1" in result.log_tail
    # warm: the same environment answers the next invocation
    again = invoke_function(name, {"marker": "m2"})
    assert again.payload["event"] == {"marker": "m2"}


def test_callback_and_es_module_handlers(create_function, invoke_function):
    callback = create_node_function(create_function, """
exports.handler = (event, context, callback) => {
  setTimeout(() => callback(null, {doubled: event.n * 2}), 10);
};
""")
    esm = create_node_function(create_function, {"app.mjs": """
export const handler = async (event) => ({ esm: true, n: event.n });
"""}, handler="app.handler")

    assert invoke_function(callback, {"n": 21}).payload == {"doubled": 42}
    assert invoke_function(esm, {"n": 5}).payload == {"esm": True, "n": 5}


def test_thrown_error_has_aws_error_shape(create_function, invoke_function):
    name = create_node_function(create_function, """
class OrderError extends Error {
  constructor(message) { super(message); this.name = 'OrderError'; }
}
exports.handler = async (event) => { throw new OrderError(`bad order ${event.order}`); };
""")

    result = invoke_function(name, {"order": 7})

    assert result.status_code == 200
    assert result.function_error == "Unhandled"
    error = result.payload
    assert error["errorType"] == "OrderError"
    assert error["errorMessage"] == "bad order 7"
    assert error["trace"][0] == "OrderError: bad order 7"
    assert any("index.js" in frame for frame in error["trace"])
    assert "ERROR\tInvoke Error \t" in result.log_tail
    assert '"errorType":"OrderError"' in result.log_tail


@pytest.mark.parametrize("files, handler, error_type, message_part", [
    ({"index.js": "require('lsh-no-such-module');\nexports.handler = async () => 1;\n"},
     "index.handler", "Runtime.ImportModuleError", "lsh-no-such-module"),
    ({"index.js": "exports.handler = async () => 1;\n"}, "index.notThere",
     "Runtime.HandlerNotFound", "index.notThere is undefined or not exported"),
    ({"index.js": "exports.handler = async () => {;\n"}, "index.handler",
     "Runtime.UserCodeSyntaxError", "SyntaxError"),
    ({"index.js": "exports.handler = async () => 1;\n"}, "missing.handler",
     "Runtime.ImportModuleError", "Cannot find module 'missing'"),
], ids=["import-error", "missing-handler", "syntax-error", "missing-module"])
def test_init_errors_have_aws_error_shape(create_function, invoke_function, files, handler,
                                          error_type, message_part):
    name = create_node_function(create_function, files, handler=handler)

    for _ in range(2):  # the init is retried on every invocation
        result = invoke_function(name, {})
        assert result.function_error == "Unhandled"
        assert result.payload["errorType"] == error_type, result.raw
        assert message_part in result.payload["errorMessage"]


def test_timeout_is_enforced_and_the_next_invocations_work(create_function, invoke_function):
    name = create_node_function(create_function, """
exports.handler = async (event) => {
  console.log('started', event.marker);
  await new Promise((resolve) => setTimeout(resolve, (event.sleep || 0) * 1000));
  return event.marker;
};
""", timeout=1)

    timed_out = invoke_function(name, {"marker": "slow", "sleep": 20})

    assert timed_out.function_error == "Unhandled"
    assert timed_out.payload["errorType"] == "Sandbox.Timedout"
    assert timed_out.payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert timed_out.seconds < 6, "the function timeout (1 s) was not enforced"
    assert "started slow" in timed_out.log_tail
    for marker in ("first", "second"):
        result = invoke_function(name, {"marker": marker})
        assert result.function_error is None, result.raw
        assert result.payload == marker


def test_uncaught_exception_and_exit_are_reported_and_recovered(create_function, invoke_function):
    name = create_node_function(create_function, """
exports.handler = async (event) => {
  if (event.exit) { console.log('about to exit'); process.exit(3); }
  if (event.throwLater) { setTimeout(() => { throw new TypeError('late'); }, 5); await new Promise(() => {}); }
  if (event.rejectLater) { Promise.reject(new RangeError('nobody waits')); await new Promise(() => {}); }
  return 'alive';
};
""")

    exited = invoke_function(name, {"exit": True})
    assert exited.payload["errorType"] == "Runtime.ExitError", exited.raw
    assert "exit status 3" in exited.payload["errorMessage"]
    assert "about to exit" in exited.log_tail

    thrown = invoke_function(name, {"throwLater": True})
    assert thrown.function_error == "Unhandled"
    assert thrown.payload["errorType"] == "TypeError", thrown.raw
    assert thrown.payload["errorMessage"] == "late"

    rejected = invoke_function(name, {"rejectLater": True})
    assert rejected.payload["errorType"] == "Runtime.UnhandledPromiseRejection", rejected.raw
    assert rejected.payload["errorMessage"] == "RangeError: nobody waits"

    assert invoke_function(name, {}).payload == "alive"


def test_function_output_reaches_cloudwatch_logs(create_function, invoke_function, logs_client):
    name = create_node_function(create_function, """
exports.handler = async (event, context) => {
  console.log('printed', event.marker);
  console.warn('warned %s', event.marker);
  return context.awsRequestId;
};
""")
    marker = uuid.uuid4().hex

    request_id = invoke_function(name, {"marker": marker}).payload

    def function_logs():
        try:
            events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs_client.exceptions.ResourceNotFoundException:
            return None
        text = "".join(e["message"] for e in events)
        return text if f"REPORT RequestId: {request_id}" in text else None

    text = eventually(function_logs, timeout=30, description="the function's log events")
    assert f"{request_id}\tINFO\tprinted {marker}" in text
    assert f"{request_id}\tWARN\twarned {marker}" in text
    assert text.index(f"START RequestId: {request_id}") < text.index(f"printed {marker}") \
        < text.index(f"END RequestId: {request_id}")


SDK_COMMONJS = """
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
const sqs = new SQSClient({});
exports.handler = async (event) => {
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl: event.queueUrl, MessageBody: event.body }));
  return { messageId: sent.MessageId };
};
"""
SDK_ES_MODULE = """
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
const sqs = new SQSClient({});
export const handler = async (event) => {
  const sent = await sqs.send(new SendMessageCommand({ QueueUrl: event.queueUrl, MessageBody: event.body }));
  return { messageId: sent.MessageId };
};
"""


def test_json_log_format_and_level(create_function, invoke_function):
    name = create_node_function(create_function, """
exports.handler = async (event) => {
  console.debug('hidden', event.marker);
  console.warn('shown', event.marker);
  return 'ok';
};
""", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"})

    result = invoke_function(name, {"marker": "m"})

    assert result.payload == "ok", result.raw
    records = [json.loads(line) for line in result.log_tail.splitlines() if line.startswith("{")]
    assert [(r["level"], r["message"]) for r in records] == [("WARN", "shown m")]
    assert records[0]["requestId"] == result.response["ResponseMetadata"]["RequestId"]
    assert "hidden" not in result.log_tail


@pytest.mark.parametrize("files", [{"index.js": SDK_COMMONJS}, {"index.mjs": SDK_ES_MODULE}],
                         ids=["commonjs", "es-module"])
def test_aws_sdk_v3_reaches_localstack(create_function, create_queue, invoke_function,
                                        sqs_client, files):
    queue_url, _ = create_queue("lsh-node-sdk")
    name = create_node_function(create_function, files, timeout=20)
    body = uuid.uuid4().hex

    result = invoke_function(name, {"queueUrl": queue_url, "body": body})

    assert result.function_error is None, result.raw
    messages = sqs_client.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    assert [(m["MessageId"], m["Body"]) for m in messages] == [(result.payload["messageId"], body)]


def test_sqs_event_source_redrives_a_failing_message_to_the_dlq(
        create_function, create_queue, lambda_client, sqs_client, logs_client):
    dlq_url, dlq_arn = create_queue("lsh-node-dlq")
    queue_url, queue_arn = create_queue(
        "lsh-node-src", VisibilityTimeout="1",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    name = create_node_function(create_function, """
exports.handler = async (event) => {
  for (const record of event.Records) {
    const body = JSON.parse(record.body);
    console.log('processing', body.id);
    if (body.poison) throw new Error('cannot process ' + body.id);
  }
  return {};
};
""")
    mapping = lambda_client.create_event_source_mapping(EventSourceArn=queue_arn,
                                                        FunctionName=name, BatchSize=1)
    try:
        eventually(lambda: lambda_client.get_event_source_mapping(UUID=mapping["UUID"])["State"]
                   == "Enabled", timeout=30, description="the event source mapping is enabled")
        good, poison = f"good-{uuid.uuid4().hex[:8]}", f"poison-{uuid.uuid4().hex[:8]}"
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
        assert f"Error: cannot process {poison}" in text
        eventually(lambda: queue_depth(sqs_client, queue_url) == {"visible": 0, "in_flight": 0},
                   timeout=30, description="the source queue is empty")
    finally:
        lambda_client.delete_event_source_mapping(UUID=mapping["UUID"])


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent's reaping counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_runtime_dies_with_its_environment_and_the_function_recovers(create_function,
                                                                      invoke_function):
    name = create_node_function(create_function, """
exports.handler = async () => ({ pid: process.pid, bridge: process.ppid });
""")
    first = invoke_function(name, {}).payload
    assert _alive(first["pid"]) and _alive(first["bridge"])

    os.kill(first["bridge"], signal.SIGKILL)  # the environment process, killed from outside

    eventually(lambda: not _alive(first["pid"]), timeout=10,
               description="the node runtime exits with its killed environment")
    second = invoke_function(name, {})
    assert second.function_error is None, second.raw
    assert second.payload["pid"] != first["pid"]


def cdk_handler_source(relative: str) -> str:
    """A Node handler shipped in aws-cdk-lib (its jsii tarball in the installed Python package)."""
    import aws_cdk

    tarball = next(Path(aws_cdk.__file__).parent.glob("_jsii/aws-cdk-lib@*.jsii.tgz"))
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(f"package/custom-resource-handlers/dist/{relative}")
        assert member is not None, relative
        return member.read().decode()


def test_cdk_auto_delete_objects_handler_runs_on_nodejs24(create_function, invoke_function,
                                                         localstack):
    s3 = localstack.client("s3")
    bucket = f"lsh-autodelete-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={
        "TagSet": [{"Key": "aws-cdk:auto-delete-objects", "Value": "true"}]})
    for key in ("a.txt", "b/c.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{bucket}/*"]}]}))
    # aws-cdk-lib's own handler, as CDK deploys it (nodejs24.x, the @aws-sdk/client-s3 of the
    # runtime); autoDeleteHandler is its logic without the CloudFormation response around it
    name = create_function(
        {"index.js": cdk_handler_source("aws-s3/auto-delete-objects-handler/index.js")},
        runtime="nodejs24.x", handler="index.autoDeleteHandler", timeout=30)
    try:
        result = invoke_function(name, {"RequestType": "Delete",
                                        "ResourceProperties": {"BucketName": bucket}})

        assert result.function_error is None, result.raw
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        # before emptying it, the handler denies new objects (appended to the bucket's policy)
        assert [(s["Effect"], s["Action"]) for s in policy["Statement"]] == [
            ("Allow", ["s3:GetObject"]), ("Deny", ["s3:PutObject"])]
    finally:
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)


def test_concurrent_cold_invocations_each_get_their_own_environment(create_function,
                                                                    invoke_function):
    name = create_node_function(create_function, """
exports.handler = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, 1000));  // overlap: one environment each
  return { n: event.n, pid: process.pid };
};
""")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: invoke_function(name, {"n": n}), range(8)))

    assert [r.function_error for r in results] == [None] * 8, [r.raw for r in results]
    assert [r.payload["n"] for r in results] == list(range(8))
    assert len({r.payload["pid"] for r in results}) == 8
