"""``lsh demo``: a sample Lambda created in LocalStack, invoked directly and through SQS.

Prints each step with its timing and exits non-zero if any step did not do what it should.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

from harness.localstack import LocalStack

SAMPLE_HANDLER = '''
import json, logging, os
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    records = event.get("Records", [])
    logger.info("demo handler got %d record(s), request %s", len(records), context.aws_request_id)
    return {"greeting": "hello from a Lambda run by LocalStack on this host",
            "python": os.environ.get("AWS_EXECUTION_ENV"), "records": len(records),
            "echo": event.get("name")}
'''


def sample_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", SAMPLE_HANDLER)
    return buf.getvalue()


def _wait(what: str, check, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {timeout:.0f} s")
        time.sleep(interval)


def run_demo(localstack: LocalStack) -> int:
    lam, sqs, logs = (localstack.client(s) for s in ("lambda", "sqs", "logs"))
    name = f"lsh-demo-{uuid.uuid4().hex[:6]}"
    ok = True

    def step(label: str, started: float, result: str) -> None:
        print(f"  {label:<34} {1000 * (time.monotonic() - started):7.0f} ms  {result}", flush=True)

    print(f"demo against {localstack.endpoint_url}:")
    t = time.monotonic()
    lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler",
                        Role="arn:aws:iam::000000000000:role/lambda-role",
                        Code={"ZipFile": sample_zip()}, Timeout=10)
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    step("create function (python3.11)", t, "Active")

    t = time.monotonic()
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"name": "demo"}))
    payload = json.loads(resp["Payload"].read())
    good = resp["StatusCode"] == 200 and "FunctionError" not in resp and payload.get("echo") == "demo"
    ok &= good
    step("invoke (cold)", t, json.dumps(payload))

    t = time.monotonic()
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"name": "again"}))
    good = json.loads(resp["Payload"].read()).get("echo") == "again"
    ok &= good
    step("invoke (warm)", t, "ok" if good else "WRONG RESULT")

    t = time.monotonic()
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn, BatchSize=1)
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello through SQS")
    group = f"/aws/lambda/{name}"

    def sqs_invocation_logged():
        events = logs.filter_log_events(logGroupName=group, filterPattern='"1 record(s)"')
        return events.get("events")

    try:
        line = _wait("SQS message → Lambda", sqs_invocation_logged)[0]["message"].strip()
        step("SQS send → Lambda ran (log seen)", t, line[:90])
    except TimeoutError as exc:
        ok = False
        step("SQS send → Lambda ran", t, f"FAILED: {exc}")

    lam.delete_function(FunctionName=name)
    print("demo: " + ("all steps did what they should" if ok else "SOME STEPS FAILED"))
    return 0 if ok else 1
