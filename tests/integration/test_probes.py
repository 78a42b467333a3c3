"""harness.probes against real LocalStack services."""

from __future__ import annotations

import json
import threading

import pytest

from harness.probes import (wait_for_execution, wait_for_item, wait_for_item_async,
                            wait_for_log_line, wait_for_message)
from harness.waits import EventuallyTimeout


def test_wait_for_message_takes_the_match_and_leaves_the_rest(localstack, create_queue):
    sqs = localstack.client("sqs")
    url, _ = create_queue("lsh-probe")
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    found = wait_for_message(sqs, url, lambda m: json.loads(m["Body"])["n"] == 2, timeout=10)
    assert json.loads(found["Body"]) == {"n": 2}
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert sorted(json.loads(m["Body"])["n"] for m in rest) == [0, 1]


def test_wait_for_message_times_out_saying_what_it_saw(localstack, create_queue):
    sqs = localstack.client("sqs")
    url, _ = create_queue("lsh-probe")
    sqs.send_message(QueueUrl=url, MessageBody="other")
    with pytest.raises(EventuallyTimeout, match="1 message\\(s\\) received, none matching"):
        wait_for_message(sqs, url, lambda m: False, timeout=1.5)


def test_wait_for_item_in_a_state(localstack, create_table):
    ddb = localstack.client("dynamodb")
    name = create_table("probe")
    ddb.put_item(TableName=name, Item={"pk": {"S": "o1"}, "status": {"S": "NEW"}})
    threading.Timer(0.3, lambda: ddb.put_item(
        TableName=name, Item={"pk": {"S": "o1"}, "status": {"S": "DONE"}})).start()
    item = wait_for_item(ddb, name, {"pk": {"S": "o1"}}, lambda i: i["status"]["S"] == "DONE",
                         timeout=5)
    assert item["status"] == {"S": "DONE"}
    with pytest.raises(EventuallyTimeout, match="no item at"):
        wait_for_item(ddb, name, {"pk": {"S": "missing"}}, timeout=0.3)


async def test_wait_for_item_async_twin(localstack, create_table):
    ddb = localstack.client("dynamodb")
    name = create_table("probe")
    threading.Timer(0.2, lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})).start()
    assert (await wait_for_item_async(ddb, name, {"pk": {"S": "a"}}, timeout=5))["pk"] == {"S": "a"}


def test_wait_for_log_line_of_a_function(localstack, create_function, lambda_client):
    name = create_function('def handler(event, context):\n    print("order-7 shipped")\n')
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    line = wait_for_log_line(localstack.client("logs"), f"/aws/lambda/{name}", "order-7 shipped",
                             timeout=20)
    assert "order-7 shipped" in line["message"]


def test_wait_for_step_functions_execution(localstack, lambda_role_arn):
    import uuid

    sfn = localstack.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"probe-{uuid.uuid4().hex[:6]}", roleArn=lambda_role_arn,
        definition=json.dumps({"StartAt": "Done", "States": {
            "Done": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}))
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
    desc = wait_for_execution(sfn, execution["executionArn"], timeout=20)
    assert desc["status"] == "SUCCEEDED" and json.loads(desc["output"]) == {"ok": True}
