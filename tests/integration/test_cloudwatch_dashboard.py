"""AWS::CloudWatch::Dashboard in a CloudFormation stack exists afterwards, changes with an update
and goes with the stack (lsh_localstack_plugins.cloudwatch_dashboard; LocalStack 4.8.1 community
skipped it)."""

from __future__ import annotations

import json

from harness.waits import eventually
from tests.integration.conftest import unique


def template(title: str) -> str:
    body = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2,
                         "properties": {"markdown": title}}]}
    return json.dumps({"Resources": {"Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardBody": json.dumps(body)}}},
        "Outputs": {"Name": {"Value": {"Ref": "Board"}}}})


def wait_stack(cfn, name: str, status: str) -> dict:
    def settled():
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        assert not stack["StackStatus"].endswith("IN_PROGRESS"), stack["StackStatus"]
        return stack

    stack = eventually(settled, timeout=60, description=f"stack {name} settles")
    assert stack["StackStatus"] == status, stack
    return stack


def test_a_dashboard_is_created_updated_and_deleted_with_its_stack(localstack):
    cfn, cloudwatch = localstack.client("cloudformation"), localstack.client("cloudwatch")
    name = unique("lsh-dash")
    cfn.create_stack(StackName=name, TemplateBody=template("first"))
    stack = wait_stack(cfn, name, "CREATE_COMPLETE")
    board = stack["Outputs"][0]["OutputValue"]
    assert board.startswith(name)
    assert "first" in cloudwatch.get_dashboard(DashboardName=board)["DashboardBody"]

    cfn.update_stack(StackName=name, TemplateBody=template("second"))
    wait_stack(cfn, name, "UPDATE_COMPLETE")
    assert "second" in cloudwatch.get_dashboard(DashboardName=board)["DashboardBody"]

    cfn.delete_stack(StackName=name)
    eventually(lambda: board not in [d["DashboardName"] for d in
                                     cloudwatch.list_dashboards()["DashboardEntries"]],
               timeout=60, description=f"dashboard {board} deleted")
