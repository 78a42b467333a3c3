"""The pure parts of deploy options and custom resources: parameter values, resource lookups by
construct path, the synthesis cache's ignore list, and how a custom resource's properties and
``Data`` are shaped (the LocalStack side, imported from the plugin source)."""

from __future__ import annotations

import pytest

from harness.deploy.cloudformation import DeployError, template_parameters
from harness.deploy.deployer import DEFAULT_IGNORE, CdkApp, _ignored, check_parameters
from harness.deploy.resources import DeployedResource, ResourceNotFound, find


def test_parameters_given_by_name_or_stack_and_defaults_passed_explicitly():
    template = {"Parameters": {"Owner": {"Type": "String"},
                               "Stage": {"Type": "String", "Default": "dev"}}}
    assert template_parameters(template, {"Owner": "a"}, "S") == [
        {"ParameterKey": "Owner", "ParameterValue": "a"},
        {"ParameterKey": "Stage", "ParameterValue": "dev"}]
    assert template_parameters(template, {"Owner": "a", "S:Owner": "b", "T:Stage": "x"}, "S") == [
        {"ParameterKey": "Owner", "ParameterValue": "b"},
        {"ParameterKey": "Stage", "ParameterValue": "dev"}]


def test_parameter_without_default_or_value_is_named_with_the_fix():
    template = {"Parameters": {"Owner": {"Type": "String", "Description": "who owns it"}}}
    with pytest.raises(DeployError, match=r"stack S needs a value for parameter\(s\) Owner "
                                          r"\(String: who owns it\).*--lsh-parameter"):
        template_parameters(template, {}, "S")


def test_unknown_parameter_is_an_error_but_not_an_unused_fallback(tmp_path):
    from harness.deploy.synth import StackArtifact

    stacks = [StackArtifact("S", tmp_path / "S.template.json", None, [])]
    templates = [{"Parameters": {"Owner": {"Type": "String"}}}]
    check_parameters(CdkApp(tmp_path, parameters={"S:Owner": "a"},
                            fallback_parameters={"Region": "x"}), stacks, templates)
    with pytest.raises(DeployError, match=r"'Ownr' given, but no stack declares them; the "
                                          r"stacks' parameters: S:Owner"):
        check_parameters(CdkApp(tmp_path, parameters={"Ownr": "a"}), stacks, templates)


def resource(logical_id: str, path: str | None, type_: str = "AWS::SQS::Queue",
             stack: str = "Orders") -> DeployedResource:
    return DeployedResource(stack, logical_id, f"phys-{logical_id}", type_, path)


POOL = [
    resource("OrdersQueue1A2B", "Orders/OrdersQueue/Resource"),
    resource("IngestQueue3C4D", "Orders/Ingest/Queue/Resource"),
    resource("RetryQueue5E6F", "Orders/Retry/Queue/Resource"),
    resource("OrdersTable7A8B", "Orders/OrdersTable/Resource", "AWS::DynamoDB::Table"),
    resource("Raw", None, "AWS::SNS::Topic"),
]


@pytest.mark.parametrize("name, expected", [
    ("OrdersQueue1A2B", "OrdersQueue1A2B"),             # logical id
    ("Orders/OrdersQueue/Resource", "OrdersQueue1A2B"),  # full construct path
    ("OrdersQueue", "OrdersQueue1A2B"),                 # its construct id
    ("Ingest/Queue", "IngestQueue3C4D"),                # the end of its path
    ("Ingest", "IngestQueue3C4D"),                      # a parent with one resource
    ("Raw", "Raw"),                                     # no path metadata: logical id only
])
def test_find_by_logical_id_or_construct_path(name, expected):
    assert find(POOL, name).logical_id == expected


def test_find_with_several_matches_names_them():
    with pytest.raises(ResourceNotFound, match=r"2 AWS::SQS::Queue resources match 'Queue': "
                                               r"IngestQueue3C4D .*RetryQueue5E6F"):
        find(POOL, "Queue", "AWS::SQS::Queue")


def test_find_without_match_lists_what_exists_of_that_type():
    with pytest.raises(ResourceNotFound) as caught:
        find(POOL, "Payments", "AWS::DynamoDB::Table")
    message = str(caught.value)
    assert "no AWS::DynamoDB::Table resource 'Payments'" in message
    assert "OrdersTable7A8B (AWS::DynamoDB::Table) at Orders/OrdersTable/Resource" in message
    assert "OrdersQueue1A2B" not in message


@pytest.mark.parametrize("name, relative, ignored", [
    ("tests", "tests", True), ("run.log", "logs/run.log", True),
    (".pytest_cache", ".pytest_cache", True),
    ("x.egg-info", "x.egg-info", True), ("app.py", "app.py", False),
    ("stack.py", "infra/stack.py", False),
    ("cdk.json", "cdk.json", False), ("cdk.context.json", "cdk.context.json", False),
])
def test_default_ignore_list_keeps_sources_only(name, relative, ignored):
    assert _ignored(name, relative, tuple(DEFAULT_IGNORE)) is ignored


def test_custom_resource_properties_arrive_as_strings(lsh_plugin):
    cr = lsh_plugin("custom_resources")
    assert cr.as_cfn_strings({"n": 3, "f": 1.5, "b": True, "l": [False, "x"], "d": {"k": 0}}) == {
        "n": "3", "f": "1.5", "b": "true", "l": ["false", "x"], "d": {"k": "0"}}


def test_custom_resource_data_becomes_attributes_getatt_can_walk(lsh_plugin):
    cr = lsh_plugin("custom_resources")
    assert cr.attributes_of({"Text": "hi", "Items.0.Name": "a", "Items.0.Size": 2,
                             "Items.1.Name": "b"}) == {
        "Text": "hi", "Items": {"0": {"Name": "a", "Size": "2"}, "1": {"Name": "b"}}}
    # a key that is also the prefix of another: the first one given is kept
    assert cr.attributes_of({"A": "x", "A.B": "y"}) == {"A": "x"}


def test_pending_responses_hand_a_response_to_its_waiter_only(lsh_plugin):
    pending = lsh_plugin("custom_resources").PendingResponses()
    pending.expect("r1")
    assert pending.deliver("r2", {"Status": "SUCCESS"}) is False  # nobody waits for r2
    assert pending.deliver("r1", {"Status": "SUCCESS"}) is True
    assert pending.wait("r1", 0) == {"Status": "SUCCESS"}
    pending.forget("r1")
    assert pending.deliver("r1", {}) is False
