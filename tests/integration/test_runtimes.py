"""Runtimes newer than LocalStack 4.8.1 (``python3.14``, ``nodejs24.x``): accepted at CreateFunction,
UpdateFunctionConfiguration and in layers' CompatibleRuntimes, and run by the ``process`` executor
on the machine's interpreters, which is said once per function in LocalStack's log."""

from __future__ import annotations

import json

import pytest

from harness.waits import eventually

from .conftest import make_zip, unique, wait_for_function_state

pytestmark = pytest.mark.integration

PYTHON_REPORT = """
import os, sys
import lsh_current_layer

def handler(event, context):
    return {"python": "%d.%d" % sys.version_info[:2],
            "execution_env": os.environ["AWS_EXECUTION_ENV"],
            "layer": lsh_current_layer.WHO}
"""
NODE_REPORT = """
const layer = require('lsh-current-layer');
exports.handler = async () => ({
  node: process.versions.node,
  executionEnv: process.env.AWS_EXECUTION_ENV,
  layer: layer.WHO,
});
"""


@pytest.fixture
def current_layer(lambda_client):
    """A layer for python3.14 and nodejs24.x with a module for each language."""
    name = unique("lsh-current-layer")
    layer = lambda_client.publish_layer_version(
        LayerName=name,
        CompatibleRuntimes=["python3.14", "nodejs24.x"],
        Content={"ZipFile": make_zip({
            "python/lsh_current_layer.py": "WHO = 'python layer'\n",
            "nodejs/node_modules/lsh-current-layer/index.js": "exports.WHO = 'node layer';\n",
        })})
    yield layer
    lambda_client.delete_layer_version(LayerName=name, VersionNumber=layer["Version"])


def test_layer_accepts_current_compatible_runtimes(lambda_client, current_layer):
    assert sorted(current_layer["CompatibleRuntimes"]) == ["nodejs24.x", "python3.14"]
    for runtime in ("python3.14", "nodejs24.x"):
        listed = lambda_client.list_layer_versions(
            LayerName=current_layer["LayerArn"], CompatibleRuntime=runtime)["LayerVersions"]
        assert [v["LayerVersionArn"] for v in listed] == [current_layer["LayerVersionArn"]]


def test_python314_function_is_created_and_invoked(create_function, invoke_function,
                                                  current_layer, lambda_client):
    name = create_function(PYTHON_REPORT, runtime="python3.14",
                           Layers=[current_layer["LayerVersionArn"]])

    result = invoke_function(name, {})

    assert lambda_client.get_function_configuration(FunctionName=name)["Runtime"] == "python3.14"
    assert result.function_error is None, result.raw
    assert result.payload["execution_env"] == "AWS_Lambda_python3.14"
    assert result.payload["layer"] == "python layer"
    assert result.payload["python"].startswith("3.")


def test_nodejs24_function_is_created_and_invoked(create_function, invoke_function,
                                                 current_layer, lambda_client):
    name = create_function({"index.js": NODE_REPORT}, runtime="nodejs24.x",
                           Layers=[current_layer["LayerVersionArn"]])

    result = invoke_function(name, {})

    assert lambda_client.get_function_configuration(FunctionName=name)["Runtime"] == "nodejs24.x"
    assert result.function_error is None, result.raw
    assert result.payload["executionEnv"] == "AWS_Lambda_nodejs24.x"
    assert result.payload["layer"] == "node layer"


def test_update_function_configuration_to_a_current_runtime(create_function, invoke_function,
                                                           lambda_client):
    name = create_function({"index.js": "exports.handler = async () => process.env.AWS_EXECUTION_ENV;\n"},
                           runtime="nodejs20.x")

    lambda_client.update_function_configuration(FunctionName=name, Runtime="nodejs24.x")
    eventually(lambda: lambda_client.get_function_configuration(FunctionName=name)
               .get("LastUpdateStatus") == "Successful", timeout=30,
               description="the runtime update is done")

    assert invoke_function(name, {}).payload == "AWS_Lambda_nodejs24.x"


def test_unknown_runtime_is_still_rejected_with_the_current_ones_listed(lambda_client,
                                                                        lambda_role_arn):
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as rejected:
        lambda_client.create_function(
            FunctionName=unique("lsh-fn"), Runtime="python9.9", Role=lambda_role_arn,
            Handler="index.handler", Code={"ZipFile": make_zip({"index.py": ""})})

    message = str(rejected.value)
    assert "python9.9" in message
    assert "python3.14" in message and "nodejs24.x" in message


def localstack_log(backend) -> str:
    """LocalStack's log so far: the embedded backend's file or the container's output."""
    if getattr(backend, "log_path", None) is not None:
        return backend.log_path.read_text(errors="replace")
    if hasattr(backend, "logs"):
        return backend.logs()
    pytest.fail(f"the {backend.name} backend gives no access to LocalStack's log")


def test_other_interpreter_is_said_once_per_function(create_function, lambda_client,
                                                     localstack_backend):
    name = create_function("def handler(event, context):\n    return 1\n", runtime="python3.14")
    # a configuration update prepares a new version of the function: still one notice
    lambda_client.update_function_configuration(FunctionName=name, Description="updated")
    eventually(lambda: lambda_client.get_function_configuration(FunctionName=name)
               .get("LastUpdateStatus") == "Successful", timeout=30,
               description="the configuration update is done")
    wait_for_function_state(lambda_client, name)

    notice = f"Lambda function {name} declares python3.14 and runs on Python 3."
    lines = [line for line in localstack_log(localstack_backend).splitlines() if notice in line]
    assert len(lines) == 1, lines


def test_cloudformation_deploys_functions_with_current_runtimes(localstack, lambda_role_arn,
                                                               invoke_function):
    cfn = localstack.client("cloudformation")
    template = {"Resources": {
        "Py": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.14", "Handler": "index.handler", "Role": lambda_role_arn,
            "Code": {"ZipFile": "def handler(event, context):\n    return 'py314'\n"}}},
        "Node": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "nodejs24.x", "Handler": "index.handler", "Role": lambda_role_arn,
            "Code": {"ZipFile": "exports.handler = async () => 'node24';\n"}}},
    }, "Outputs": {"Py": {"Value": {"Ref": "Py"}}, "Node": {"Value": {"Ref": "Node"}}}}
    stack = unique("lsh-runtimes")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    try:
        cfn.get_waiter("stack_create_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        outputs = {o["OutputKey"]: o["OutputValue"]
                   for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}

        assert invoke_function(outputs["Py"], {}).payload == "py314"
        assert invoke_function(outputs["Node"], {}).payload == "node24"
    finally:
        cfn.delete_stack(StackName=stack)
