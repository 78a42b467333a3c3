"""Fixtures for the integration tests: uniquely named Lambda functions, layers, queues and tables
(deleted after each test) and a timed ``invoke_function``.

The LocalStack itself comes from the ``localstack`` session fixture of ``harness.pytest_plugin``
(registered through ``pytest11``).
"""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from typing import Any, Callable, Iterator

import pytest

from harness.waits import eventually

DEFAULT_RUNTIME = "python3.12"


def unique(prefix: str) -> str:
    """A resource name no other test (or earlier run against the same LocalStack) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_zip(files: dict[str, str | bytes]) -> bytes:
    """A zip archive holding ``files`` (archive path -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            info = zipfile.ZipInfo(path)
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


class Invocation:
    """The parts of a Lambda ``Invoke`` response the tests look at."""

    def __init__(self, response: dict[str, Any], seconds: float):
        self.response = response
        self.seconds = seconds
        self.status_code = response["StatusCode"]
        self.function_error = response.get("FunctionError")
        self.raw = response["Payload"].read()
        self.log_tail = (base64.b64decode(response["LogResult"]).decode("utf-8", "replace")
                         if response.get("LogResult") else "")

    @property
    def payload(self) -> Any:
        return json.loads(self.raw) if self.raw else None


def invoke(client, name: str, payload: Any = None, **kwargs: Any) -> Invocation:
    """Invoke ``name`` synchronously (RequestResponse, with the log tail) and time it."""
    kwargs.setdefault("LogType", "Tail")
    started = time.perf_counter()
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload or {}), **kwargs)
    return Invocation(response, time.perf_counter() - started)


@pytest.fixture
def invoke_function(lambda_client) -> Callable[..., Invocation]:
    """``invoke_function(name, payload, client=None, **invoke_kwargs)`` -> :class:`Invocation`."""
    def call(name: str, payload: Any = None, client=None, **kwargs: Any) -> Invocation:
        return invoke(client or lambda_client, name, payload, **kwargs)

    return call


@pytest.fixture(scope="session")
def lambda_role_arn(localstack) -> str:
    account = localstack.client("sts").get_caller_identity()["Account"]
    return f"arn:aws:iam::{account}:role/lsh-integration-lambda"


@pytest.fixture
def lambda_client(localstack):
    return localstack.client("lambda")


@pytest.fixture
def logs_client(localstack):
    return localstack.client("logs")


@pytest.fixture
def sqs_client(localstack):
    return localstack.client("sqs")


def wait_for_function_state(client, name: str, timeout: float = 30.0) -> dict[str, Any]:
    """The function's configuration once it has left the Pending state."""
    def settled():
        config = client.get_function_configuration(FunctionName=name)
        return config if config.get("State") != "Pending" else None

    return eventually(settled, timeout=timeout, description=f"function {name} leaves Pending")


@pytest.fixture
def settled_function_config(lambda_client) -> Callable[[str], dict[str, Any]]:
    """``settled_function_config(name)``: the configuration once the function left Pending."""
    return lambda name: wait_for_function_state(lambda_client, name)


@pytest.fixture
def create_function(lambda_client, lambda_role_arn) -> Iterator[Callable[..., str]]:
    """Factory: ``create_function(code, handler=..., runtime=..., timeout=..., **create_kwargs)``.

    ``code`` is the source of ``index.py`` or a dict of archive files. Waits until the function
    is Active (unless ``expect_active=False``) and deletes it after the test.
    """
    created: list[str] = []

    def create(code: str | dict[str, str | bytes], *, handler: str = "index.handler",
               runtime: str = DEFAULT_RUNTIME, timeout: int = 10, expect_active: bool = True,
               prefix: str = "lsh-fn", **kwargs: Any) -> str:
        name = unique(prefix)
        files = {"index.py": code} if isinstance(code, str) else code
        lambda_client.create_function(FunctionName=name, Runtime=runtime, Role=lambda_role_arn,
                                      Handler=handler, Code={"ZipFile": make_zip(files)},
                                      Timeout=timeout, **kwargs)
        created.append(name)
        if expect_active:
            config = wait_for_function_state(lambda_client, name)
            assert config["State"] == "Active", (
                f"function {name} is {config['State']}: {config.get('StateReason')}")
        return name

    yield create
    for name in created:
        try:
            lambda_client.delete_function(FunctionName=name)
        except lambda_client.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture
def publish_layer(lambda_client) -> Iterator[Callable[[dict[str, str | bytes]], str]]:
    """Factory: ``publish_layer(files) -> LayerVersionArn``; deleted after the test."""
    published: list[tuple[str, int]] = []

    def publish(files: dict[str, str | bytes]) -> str:
        name = unique("lsh-layer")
        layer = lambda_client.publish_layer_version(
            LayerName=name, Content={"ZipFile": make_zip(files)},
            CompatibleRuntimes=[DEFAULT_RUNTIME])
        published.append((name, layer["Version"]))
        return layer["LayerVersionArn"]

    yield publish
    for name, version in published:
        try:
            lambda_client.delete_layer_version(LayerName=name, VersionNumber=version)
        except lambda_client.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture
def create_queue(sqs_client) -> Iterator[Callable[..., tuple[str, str]]]:
    """Factory: ``create_queue(prefix, **attributes) -> (queue_url, queue_arn)``; deleted after."""
    urls: list[str] = []

    def create(prefix: str = "lsh-q", **attributes: str) -> tuple[str, str]:
        url = sqs_client.create_queue(QueueName=unique(prefix), Attributes=attributes)["QueueUrl"]
        urls.append(url)
        arn = sqs_client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    yield create
    for url in urls:
        try:
            sqs_client.delete_queue(QueueUrl=url)
        except sqs_client.exceptions.QueueDoesNotExist:
            pass


@pytest.fixture
def create_table(localstack) -> Iterator[Callable[[str], str]]:
    """Factory: ``create_table(prefix) -> table name``, a table keyed by the string ``pk``;
    deleted after."""
    ddb, names = localstack.client("dynamodb"), []

    def create(prefix: str = "lsh-t") -> str:
        name = unique(prefix)
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        names.append(name)
        return name

    yield create
    for name in names:
        try:
            ddb.delete_table(TableName=name)
        except ddb.exceptions.ResourceNotFoundException:
            pass
