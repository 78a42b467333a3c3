"""Deploying a CDK app as its team wrote it: CDK's custom resources, parameters without defaults,
the app command as the CDK CLI runs it, resource lookups without outputs, the synthesis cache
ignoring test output, and a deploy that fails when LocalStack skips a resource.

The app (tests/integration/cdk_apps/blocked_samples) is made of what stopped public sample apps
from deploying unchanged; nothing in it knows about LocalStack.
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from pathlib import Path

import pytest

from harness import eventually
from harness.deploy import CdkApp, DeployError, deploy_app, deploy_stack
from harness.deploy.cloudformation import wait_for_gone
from harness.deploy.resources import ResourceNotFound
from harness.deploy.synth import SynthError, app_argv

APPS = Path(__file__).parent / "cdk_apps"
BLOCKED = APPS / "blocked_samples"


@pytest.fixture(scope="module")
def samples(localstack):
    return deploy_app(localstack, CdkApp(BLOCKED, parameters={"Owner": "team-uploads"}))


def test_bucket_notification_through_cdk_custom_resource_delivers(localstack, samples):
    """``bucket.add_event_notification``: CDK's Custom::S3BucketNotifications (a Python handler)
    configures the bucket; an upload reaches the queue, the function and the table."""
    s3 = localstack.client("s3")
    bucket = samples.bucket("Uploads")
    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert [q["QueueArn"].rsplit(":", 1)[-1] for q in config.get("QueueConfigurations", [])] == [
        samples.queue_url("UploadEvents").rsplit("/", 1)[-1]]
    key = f"in/{uuid.uuid4().hex}.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"twelve bytes")
    table = samples.resource("Uploaded").handle

    def recorded():
        return table.get_item(Key={"key": key}).get("Item")

    item = eventually(recorded, timeout=30, description=f"{key} recorded in the table")
    assert item["owner"] == "team-uploads"  # the parameter without default, passed by the test
    assert int(item["size"]) == 12


def test_own_python_custom_resource_feeds_an_output(samples):
    assert samples.outputs["MottoText"] == "upload and record"
    motto = samples.resource("Motto")
    assert motto.type == "AWS::CloudFormation::CustomResource"
    assert motto.physical_id == "motto-upload-and-record"


def test_node_function_log_retention_through_cdk_custom_resource(localstack, samples):
    """``log_retention``: CDK's Custom::LogRetention (a nodejs24.x handler using the AWS SDK v3)
    creates the function's log group with the retention; the nodejs22.x function runs."""
    name = samples.function("Greeter")
    result = localstack.client("lambda").invoke(FunctionName=name, Payload=b'{"name": "cdk"}')
    assert json.loads(result["Payload"].read()) == {"greeting": "hello cdk"}
    groups = localstack.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [
        (f"/aws/lambda/{name}", 7)]


def test_aws_custom_resource_sdk_call_feeds_an_output(samples):
    """``AwsCustomResource`` (Custom::AWS, a Node handler): SQS GetQueueAttributes at deploy time,
    its flattened response field as an output."""
    assert samples.outputs["QueueVisibilityTimeout"] == "30"


def test_provider_framework_waits_for_is_complete(localstack, samples):
    """``custom_resources.Provider`` with Python ``on_event``/``is_complete``: CDK's Node.js
    framework functions and Step Functions waiter ran; the resource completed only once
    ``is_complete`` said so (2 s after ``on_event``), with its data."""
    assert samples.outputs["SlowReady"] in ("after 2 s", "after 3 s", "after 4 s", "after 5 s")
    assert samples.resource("Slow").physical_id == "slow-resource"
    waiter = samples.state_machine("SlowProvider/waiter-state-machine")
    executions = localstack.client("stepfunctions").list_executions(
        stateMachineArn=waiter)["executions"]
    assert [e["status"] for e in executions] == ["SUCCEEDED"]


def test_lookups_by_construct_path_and_logical_id(localstack, samples):
    queue = samples.resource("UploadEvents")
    assert queue.type == "AWS::SQS::Queue"
    assert queue.path == "LshBlockedSamples/UploadEvents/Resource"
    assert samples.resource(queue.logical_id) == queue
    assert samples.resource("LshBlockedSamples/UploadEvents/Resource") == queue
    assert samples.queue_url("UploadEvents") == queue.physical_id
    attrs = localstack.client("sqs").get_queue_attributes(
        QueueUrl=queue.physical_id, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "30"
    assert samples.function("RecordUpload").startswith("LshBlockedSamples-RecordUpload")
    assert samples.resource("Uploads").handle.name == samples.bucket("Uploads")


def test_lookup_without_match_lists_what_exists(samples):
    with pytest.raises(ResourceNotFound) as caught:
        samples.state_machine("Orders")
    assert "no AWS::StepFunctions::StateMachine resource 'Orders'" in str(caught.value)
    with pytest.raises(ResourceNotFound, match=r"UploadEvents.* \(AWS::SQS::Queue\) at "
                                               r"LshBlockedSamples/UploadEvents/Resource"):
        samples.resource("Nothing")


def test_parameter_without_default_must_be_given(localstack, samples):
    with pytest.raises(DeployError, match=r"parameter\(s\) Owner \(String: who owns the uploads"
                                          r".*parameters=\{'NAME': 'value'\}"):
        deploy_app(localstack, CdkApp(BLOCKED))


def test_unknown_parameter_is_named(localstack, samples):
    with pytest.raises(DeployError, match=r"'Ownr' given, but no stack declares them; .*"
                                          r"LshBlockedSamples:Owner"):
        deploy_app(localstack, CdkApp(BLOCKED, parameters={"Owner": "x", "Ownr": "y"}))


def test_skipped_resource_type_fails_the_deploy(localstack):
    cfn = localstack.client("cloudformation")
    name = f"lsh-skip-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        # a type no one will add a provider for here (LocalStack community has none)
        "Dish": {"Type": "AWS::GroundStation::Config", "Properties": {"Name": "dish"}}}}
    try:
        with pytest.raises(DeployError, match=r"no provider for Dish \(AWS::GroundStation::Config"
                                              r"\) and skipped it"):
            deploy_stack(cfn, name, template, timeout=60)
        # allowed on purpose: the same stack deploys
        assert deploy_stack(cfn, name, template, timeout=60, allow_skipped=True).status.endswith(
            "_COMPLETE")
    finally:
        cfn.delete_stack(StackName=name)
        wait_for_gone(cfn, name, 60)


def test_missing_app_interpreter_is_a_synth_error_naming_it(tmp_path):
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "./.venv/bin/python3 app.py"}))
    with pytest.raises(SynthError, match=r"runs \./\.venv/bin/python3, which does not exist in .*"
                                         r"python3 -m venv \.venv.*\"python3 app\.py\""):
        app_argv("./.venv/bin/python3 app.py", tmp_path)
    with pytest.raises(SynthError, match=r"runs 'no-such-cdk-runner', which is not on PATH"):
        app_argv("no-such-cdk-runner app.py", tmp_path)


def test_relative_app_command_runs_from_the_app_folder(tmp_path, localstack):
    """``./.venv/bin/python3 app.py`` as a sample's cdk.json says, with that venv present."""
    app_dir = tmp_path / "app"
    shutil.copytree(APPS / "minimal", app_dir)
    venv_bin = app_dir / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    # the app's own interpreter: here one that runs this test environment's Python
    (venv_bin / "python3").write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    (venv_bin / "python3").chmod(0o755)
    (app_dir / "cdk.json").write_text(json.dumps({"app": "./.venv/bin/python3 app.py"}))
    assert app_argv("./.venv/bin/python3 app.py", app_dir)[0] == str(venv_bin / "python3")
    deployed = deploy_app(localstack, CdkApp(app_dir))
    assert "QueueUrl" in deployed.outputs


def test_fingerprint_ignores_test_output_but_not_sources(tmp_path):
    app_dir = tmp_path / "app"
    shutil.copytree(APPS / "minimal", app_dir)
    app = CdkApp(app_dir)
    before = app.synth_fingerprint("us-east-1")
    (app_dir / "tests").mkdir()
    (app_dir / "tests" / "test_app.py").write_text("def test(): pass\n")
    (app_dir / "run.log").write_text("log line\n")
    (app_dir / ".pytest_cache").mkdir()
    (app_dir / ".pytest_cache" / "v").write_text("x")
    assert app.synth_fingerprint("us-east-1") == before
    assert CdkApp(app_dir, ignore=[]).synth_fingerprint("us-east-1") != before
    (app_dir / "asset" / "more.txt").write_text("a new source\n")
    assert app.synth_fingerprint("us-east-1") != before
    # parameters change what is deployed, not what is synthesized
    with_params = CdkApp(app_dir, parameters={"P": "1"})
    assert with_params.synth_fingerprint("us-east-1") == app.synth_fingerprint("us-east-1")
    assert with_params.fingerprint("us-east-1") != app.fingerprint("us-east-1")


def test_stack_delete_runs_auto_delete_objects(localstack, samples):
    """``auto_delete_objects``: deleting the stack empties the bucket (CDK's Node handler) so
    CloudFormation can delete it. The last test here using `samples`: it deletes the stack."""
    s3, cfn = localstack.client("s3"), localstack.client("cloudformation")
    bucket = samples.bucket("Uploads")
    s3.put_object(Bucket=bucket, Key="left/behind.txt", Body=b"x")
    cfn.delete_stack(StackName="LshBlockedSamples")
    wait_for_gone(cfn, "LshBlockedSamples", 120)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket not in names


class _Options:
    def __init__(self, values: list[str]):
        self.values = values

    def getoption(self, name: str) -> list[str]:
        assert name == "lsh_parameter"
        return self.values


def test_lsh_parameter_option_parses_name_value_pairs():
    from harness.pytest_plugin import cli_parameters

    assert cli_parameters(_Options(["Owner=team=a", "LshBlockedSamples:Owner=b"])) == {
        "Owner": "team=a", "LshBlockedSamples:Owner": "b"}
    with pytest.raises(pytest.UsageError, match=r"--lsh-parameter 'Owner': write it as NAME=VALUE"):
        cli_parameters(_Options(["Owner"]))
