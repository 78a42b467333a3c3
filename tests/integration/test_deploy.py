"""The harness deployer: CDK synth + file assets + CloudFormation, into a real LocalStack."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import pytest

from harness.deploy import CdkApp, DeployError, deploy_app, deploy_stack
from harness.deploy.synth import SynthError

MINIMAL = Path(__file__).parent / "cdk_apps" / "minimal"


@pytest.fixture(scope="module")
def minimal(localstack):
    return deploy_app(localstack, CdkApp(MINIMAL))


def test_deploy_creates_the_stack_with_its_outputs(localstack, minimal):
    stack = minimal.stacks["LshMinimal"]
    assert stack.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    assert set(minimal.outputs) >= {"QueueUrl", "BucketName", "AssetKey", "AssetBucket"}
    sqs = localstack.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=minimal.outputs["QueueUrl"],
                                     AttributeNames=["RedrivePolicy"])["Attributes"]
    assert '"maxReceiveCount": 2' in attrs["RedrivePolicy"]
    localstack.client("s3").head_bucket(Bucket=minimal.outputs["BucketName"])


def test_file_assets_are_uploaded_as_zips(localstack, minimal):
    body = localstack.client("s3").get_object(Bucket=minimal.outputs["AssetBucket"],
                                              Key=minimal.outputs["AssetKey"])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert zf.read("hello.txt") == b"hello asset\n"


def test_unchanged_redeploy_reuses_synth_and_skips_everything(localstack, minimal):
    again = deploy_app(localstack, CdkApp(MINIMAL))
    stack = again.stacks["LshMinimal"]
    assert "synth_reused_s" in again.timings
    assert stack.changed is False
    assert stack.details["assets"]["uploaded"] == 0
    assert again.outputs == minimal.outputs


def test_changed_app_updates_the_stack(localstack, minimal):
    updated = deploy_app(localstack, CdkApp(MINIMAL, env={"LSH_TEST_EXTRA_QUEUE": "1"}))
    stack = updated.stacks["LshMinimal"]
    assert stack.changed and stack.status == "UPDATE_COMPLETE"
    localstack.client("sqs").get_queue_attributes(QueueUrl=updated.outputs["ExtraQueueUrl"],
                                                  AttributeNames=["QueueArn"])


def test_broken_app_fails_synth_with_its_error(tmp_path, localstack):
    (tmp_path / "cdk.json").write_text('{"app": "python app.py"}')
    (tmp_path / "app.py").write_text("raise ValueError('the table name is missing')\n")
    with pytest.raises(SynthError, match="the table name is missing"):
        deploy_app(localstack, CdkApp(tmp_path))


def test_failed_stack_lists_the_failed_resource(localstack):
    template = {"Resources": {"BadTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "other", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST"}}}}
    with pytest.raises(DeployError, match="BadTable"):
        deploy_stack(localstack.client("cloudformation"), f"bad-{uuid.uuid4().hex[:6]}", template,
                     timeout=60)


def test_cdklocal_deploys_the_same_app(localstack, tmp_path):
    """The npm CLI (cdklocal + aws-cdk) deploys the same app, with the same wiring."""
    import shutil

    from harness.deploy.cdklocal import deploy_with_cdklocal

    app_dir = tmp_path / "app"
    shutil.copytree(MINIMAL, app_dir)
    outputs = deploy_with_cdklocal(localstack, app_dir)
    stack = outputs["LshMinimal"]
    attrs = localstack.client("sqs").get_queue_attributes(
        QueueUrl=stack["QueueUrl"], AttributeNames=["RedrivePolicy"])["Attributes"]
    assert '"maxReceiveCount": 2' in attrs["RedrivePolicy"]
    body = localstack.client("s3").get_object(Bucket=stack["AssetBucket"],
                                              Key=stack["AssetKey"])["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(body)).read("hello.txt") == b"hello asset\n"
