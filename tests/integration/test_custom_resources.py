"""CloudFormation custom resources in LocalStack (our ``custom_resources`` provider plugin), with a
Python handler: success, FAILED with its reason, ``Fn::GetAtt`` on ``Data``, an update that
replaces the resource, delete on stack delete, a handler that never answers, one that crashes;
and a Node.js handler answering the way ``cfn-response`` and CDK's handlers do.

Each stack is plain CloudFormation (no CDK) so the protocol is what is tested; the CDK shapes are
in test_deploy_options.py's app. The handler records every request it gets on an SQS queue.
"""

from __future__ import annotations

import json
import uuid

import pytest

from harness.deploy import DeployError, deploy_stack
from harness.deploy.cloudformation import wait_for_gone
from harness.probes import peek_messages

from .conftest import DEFAULT_RUNTIME

HANDLER = r'''
import json, os, urllib.request
import boto3

def handler(event, context):
    if "Records" in event:  # the request came through an SNS topic
        event = json.loads(event["Records"][0]["Sns"]["Message"])
    props = event["ResourceProperties"]
    boto3.client("sqs").send_message(QueueUrl=props["RecordTo"], MessageBody=json.dumps(event))
    mode = props.get("Mode", "ok")
    if mode == "crash":
        raise ValueError("the handler crashed on purpose")
    if mode == "silent":
        return
    body = {
        "Status": "FAILED" if mode == "fail" else "SUCCESS",
        "Reason": props.get("Reason", ""),
        "PhysicalResourceId": props.get("Id") or event.get("PhysicalResourceId") or "first-id",
        "StackId": event["StackId"], "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Greeting": "hello " + props.get("Name", ""), "Items.0.Name": "deep",
                 "Count": 3},
    }
    request = urllib.request.Request(event["ResponseURL"], data=json.dumps(body).encode(),
                                     method="PUT", headers={"Content-Type": ""})
    urllib.request.urlopen(request).read()
'''


def template(record_to: str, **props) -> dict:
    """A stack: the handler function, one custom resource, outputs of its Ref and attributes."""
    resource_props = {"ServiceToken": {"Fn::GetAtt": ["Handler", "Arn"]}, "RecordTo": record_to,
                      **props}
    return {
        "Resources": {
            "Handler": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": DEFAULT_RUNTIME, "Handler": "index.handler", "Timeout": 10,
                "Role": "arn:aws:iam::000000000000:role/lsh-custom-resource",
                "Code": {"ZipFile": HANDLER}}},
            "Thing": {"Type": "Custom::Thing", "Properties": resource_props},
        },
        "Outputs": {
            "Ref": {"Value": {"Ref": "Thing"}},
            "Greeting": {"Value": {"Fn::GetAtt": ["Thing", "Greeting"]}},
            "Deep": {"Value": {"Fn::GetAtt": ["Thing", "Items.0.Name"]}},
            "Count": {"Value": {"Fn::GetAtt": ["Thing", "Count"]}},
        },
    }


@pytest.fixture
def cfn(localstack):
    return localstack.client("cloudformation")


@pytest.fixture
def recorded(sqs_client, create_queue):
    """``(queue_url, requests())``: the requests the handler got, in order."""
    url, _ = create_queue("lsh-cr-log")

    def requests() -> list[dict]:
        messages = peek_messages(sqs_client, url)
        return [json.loads(m["Body"]) for m in sorted(
            messages, key=lambda m: int(m.get("Attributes", {}).get("SentTimestamp", 0)))]

    return url, requests


@pytest.fixture
def stack_name(cfn, recorded):
    """A fresh stack name; the stack is deleted after the test, before the queue its handler
    records to (``recorded``), so the handler's Delete can still record."""
    name = f"lsh-cr-{uuid.uuid4().hex[:8]}"
    yield name
    try:
        cfn.delete_stack(StackName=name)
        wait_for_gone(cfn, name, 60)
    except Exception:
        pass


def test_create_succeeds_with_ref_and_data_attributes(cfn, stack_name, recorded):
    url, requests = recorded
    stack = deploy_stack(cfn, stack_name, template(url, Name="world", Id="thing-1", Flag=True,
                                                   Size=5), timeout=120)
    assert stack.outputs == {"Ref": "thing-1", "Greeting": "hello world", "Deep": "deep",
                             "Count": "3"}
    (create,) = requests()
    assert create["RequestType"] == "Create"
    assert create["LogicalResourceId"] == "Thing"
    assert create["ResourceType"] == "Custom::Thing"
    assert create["StackId"].startswith("arn:aws:cloudformation:")
    assert create["ResponseURL"].startswith("http://127.0.0.1:")
    # values arrive as strings, as CloudFormation sends them
    assert create["ResourceProperties"]["Flag"] == "true"
    assert create["ResourceProperties"]["Size"] == "5"
    assert create["ResourceProperties"]["ServiceToken"].startswith("arn:aws:lambda:")
    assert "PhysicalResourceId" not in create and "OldResourceProperties" not in create


def test_failed_response_fails_the_stack_with_the_reason(cfn, stack_name, recorded):
    url, _ = recorded
    with pytest.raises(DeployError, match="the quota for widgets is used up"):
        deploy_stack(cfn, stack_name, template(url, Mode="fail",
                                               Reason="the quota for widgets is used up"),
                     timeout=120)


def test_update_with_new_physical_id_deletes_the_old_resource(cfn, stack_name, recorded):
    url, requests = recorded
    deploy_stack(cfn, stack_name, template(url, Name="a", Id="old-id"), timeout=120)
    updated = deploy_stack(cfn, stack_name, template(url, Name="b", Id="new-id"), timeout=120)
    assert updated.outputs["Ref"] == "new-id"
    assert updated.outputs["Greeting"] == "hello b"
    kinds = [(r["RequestType"], r.get("PhysicalResourceId")) for r in requests()]
    assert kinds == [("Create", None), ("Update", "old-id"), ("Delete", "old-id")]
    update = requests()[1]
    assert update["OldResourceProperties"]["Name"] == "a"
    assert update["ResourceProperties"]["Name"] == "b"


def test_update_keeping_the_physical_id_sends_no_delete(cfn, stack_name, recorded):
    url, requests = recorded
    deploy_stack(cfn, stack_name, template(url, Name="a", Id="same"), timeout=120)
    deploy_stack(cfn, stack_name, template(url, Name="b", Id="same"), timeout=120)
    assert [r["RequestType"] for r in requests()] == ["Create", "Update"]


def test_stack_delete_sends_delete(cfn, stack_name, recorded):
    url, requests = recorded
    deploy_stack(cfn, stack_name, template(url, Name="a", Id="to-go"), timeout=120)
    cfn.delete_stack(StackName=stack_name)
    wait_for_gone(cfn, stack_name, 60)
    last = requests()[-1]
    assert (last["RequestType"], last["PhysicalResourceId"]) == ("Delete", "to-go")
    assert last["ResourceProperties"]["Name"] == "a"


def test_no_response_times_out_clearly(cfn, stack_name, recorded):
    url, _ = recorded
    with pytest.raises(DeployError, match=r"no response from .* within 3 s"):
        deploy_stack(cfn, stack_name, template(url, Mode="silent", ServiceTimeout=3),
                     timeout=120)


def test_crashing_handler_fails_with_its_error(cfn, stack_name, recorded):
    url, _ = recorded
    with pytest.raises(DeployError, match="ValueError: the handler crashed on purpose"):
        deploy_stack(cfn, stack_name, template(url, Mode="crash"), timeout=120)


NODE_HANDLER = r"""
const https = require('https');
const url = require('url');
exports.handler = async (event) => {
  const props = event.ResourceProperties;
  const fail = props.Mode === 'fail' && event.RequestType !== 'Delete';
  const body = JSON.stringify({Status: fail ? 'FAILED' : 'SUCCESS',
    Reason: 'node says no: ' + props.Name, PhysicalResourceId: 'node-' + props.Name,
    StackId: event.StackId, RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId, Data: {Greeting: 'hello ' + props.Name}});
  const parsed = url.parse(event.ResponseURL);  // as cfn-response does: https, port 443
  await new Promise((resolve, reject) => {
    const req = https.request({hostname: parsed.hostname, path: parsed.path, method: 'PUT',
      headers: {'content-type': '', 'content-length': Buffer.byteLength(body)}}, resolve);
    req.on('error', reject); req.write(body); req.end();
  });
};
"""


def node_template(**props) -> dict:
    return {
        "Resources": {
            "Handler": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "nodejs22.x", "Handler": "index.handler", "Timeout": 10,
                "Role": "arn:aws:iam::000000000000:role/lsh-custom-resource",
                "Code": {"ZipFile": NODE_HANDLER}}},
            "Thing": {"Type": "Custom::NodeThing", "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["Handler", "Arn"]}, **props}}},
        "Outputs": {"Ref": {"Value": {"Ref": "Thing"}},
                    "Greeting": {"Value": {"Fn::GetAtt": ["Thing", "Greeting"]}}}}


def test_node_handler_success_with_data(cfn, stack_name):
    """A Node.js handler PUTs with https.request({hostname, path}) (port 443, as AWS's presigned
    URL wants); its response arrives: Ref and GetAtt come from it."""
    stack = deploy_stack(cfn, stack_name, node_template(Name="widget"), timeout=120)
    assert stack.outputs == {"Ref": "node-widget", "Greeting": "hello widget"}


def test_node_handler_failed_with_reason(cfn, stack_name):
    with pytest.raises(DeployError, match="node says no: widget"):
        deploy_stack(cfn, stack_name, node_template(Name="widget", Mode="fail"), timeout=120)


def test_sns_topic_as_service_token(cfn, stack_name, recorded):
    """A ``ServiceToken`` that is an SNS topic: the request is published to it (here a Lambda
    subscription answers)."""
    url, requests = recorded
    stack = template(url, Name="via sns", Id="sns-1")
    stack["Resources"].update({
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Subscription": {"Type": "AWS::SNS::Subscription", "Properties": {
            "Protocol": "lambda", "TopicArn": {"Ref": "Topic"},
            "Endpoint": {"Fn::GetAtt": ["Handler", "Arn"]}}},
        "Permission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "Principal": "sns.amazonaws.com",
            "FunctionName": {"Ref": "Handler"}, "SourceArn": {"Ref": "Topic"}}}})
    thing = stack["Resources"]["Thing"]
    thing["Properties"]["ServiceToken"] = {"Ref": "Topic"}
    thing["DependsOn"] = ["Subscription", "Permission"]
    deployed = deploy_stack(cfn, stack_name, stack, timeout=120)
    assert deployed.outputs["Ref"] == "sns-1"
    assert deployed.outputs["Greeting"] == "hello via sns"
    assert [r["RequestType"] for r in requests()] == ["Create"]


def test_failed_update_fails_with_reason_and_delete_still_reaches_the_handler(
        cfn, stack_name, recorded):
    url, requests = recorded
    deploy_stack(cfn, stack_name, template(url, Name="a", Id="kept-id"), timeout=120)
    with pytest.raises(DeployError, match="no widgets on Sundays"):
        deploy_stack(cfn, stack_name, template(url, Name="b", Id="kept-id", Mode="fail",
                                               Reason="no widgets on Sundays"), timeout=120)
    cfn.delete_stack(StackName=stack_name)
    wait_for_gone(cfn, stack_name, 60)
    kinds = [(r["RequestType"], r.get("PhysicalResourceId")) for r in requests()]
    assert kinds[:2] == [("Create", None), ("Update", "kept-id")]
    assert kinds[-1] == ("Delete", "kept-id")
