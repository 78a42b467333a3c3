"""The pipeline's CDK stack: every wire is in the template, and IAM is least privilege.

Synthesized once per module without building the code assets (``aws:cdk:bundling-stacks``
empty); ``test_infra_assets.py`` builds them.
"""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Match, Template  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.upload_pipeline.stack import OUTPUT_NAMES, STACK_NAME, PipelineStack  # noqa: E402

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}
FOURTEEN_DAYS = 14 * 24 * 3600


def synth(context: dict | None = None) -> dict:
    app = build_app(context={**NO_BUNDLING, **(context or {})}, apps=["upload_pipeline"])
    stack = next(c for c in app.node.children if isinstance(c, PipelineStack))
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def template() -> Template:
    return synth()


@pytest.fixture(scope="module")
def resources(template) -> dict:
    return template.to_json()["Resources"]


def logical_id(resources: dict, type_: str, prefix: str) -> str:
    [found] = [k for k, v in resources.items() if v["Type"] == type_ and k.startswith(prefix)]
    return found


def arn_of(resources, type_, prefix) -> dict:
    return {"Fn::GetAtt": [logical_id(resources, type_, prefix), "Arn"]}


def ref(resources, type_, prefix) -> dict:
    return {"Ref": logical_id(resources, type_, prefix)}


# --- way in 1: uploads -------------------------------------------------------------------------

def test_bucket_notifies_the_topic_through_add_event_notification(template, resources):
    topic = ref(resources, "AWS::SNS::Topic", "PipelineTopic")
    bucket_id = logical_id(resources, "AWS::S3::Bucket", "UploadsBucket")
    template.has_resource_properties("Custom::S3BucketNotifications", {
        "BucketName": {"Ref": bucket_id},
        "NotificationConfiguration": {"TopicConfigurations": [
            {"Events": ["s3:ObjectCreated:*"], "TopicArn": topic}]}})
    notifications = resources[logical_id(resources, "Custom::S3BucketNotifications",
                                         "UploadsBucketNotifications")]
    # S3 checks that it may publish when the configuration is put: the policy must come first
    assert logical_id(resources, "AWS::SNS::TopicPolicy", "PipelineTopicPolicy") in \
        notifications["DependsOn"]
    assert resources[bucket_id]["DeletionPolicy"] == "Delete"


def test_bucket_empties_itself_when_the_stack_is_deleted(template, resources):
    bucket_id = logical_id(resources, "AWS::S3::Bucket", "UploadsBucket")
    template.has_resource_properties("Custom::S3AutoDeleteObjects",
                                     {"BucketName": {"Ref": bucket_id}})


def test_topic_policy_lets_only_this_bucket_publish(resources):
    policy = resources[logical_id(resources, "AWS::SNS::TopicPolicy", "PipelineTopicPolicy")]
    [statement] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                   if s.get("Principal") == {"Service": "s3.amazonaws.com"}]
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == ref(resources, "AWS::SNS::Topic", "PipelineTopic")
    assert statement["Condition"] == {"ArnLike": {"aws:SourceArn": arn_of(
        resources, "AWS::S3::Bucket", "UploadsBucket")}}


def test_bucket_is_private_and_encrypted(template):
    template.has_resource_properties("AWS::S3::Bucket", {
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "BucketEncryption": Match.any_value()})


# --- the way through ---------------------------------------------------------------------------

def test_topic_feeds_the_ingest_queue_with_raw_delivery(template, resources):
    template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "sqs", "RawMessageDelivery": True,
        "TopicArn": ref(resources, "AWS::SNS::Topic", "PipelineTopic"),
        "Endpoint": arn_of(resources, "AWS::SQS::Queue", "IngestQueue")})
    template.resource_count_is("AWS::SNS::Subscription", 1)


@pytest.mark.parametrize("queue, dlq", [("IngestQueue", "IngestDlq"),
                                        ("ConfirmationQueue", "ConfirmationDlq")])
def test_queues_redrive_to_their_dlq_after_three_receives(resources, queue, dlq):
    props = resources[logical_id(resources, "AWS::SQS::Queue", queue)]["Properties"]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": arn_of(resources, "AWS::SQS::Queue", dlq), "maxReceiveCount": 3}
    assert props["MessageRetentionPeriod"] == FOURTEEN_DAYS
    dlq_props = resources[logical_id(resources, "AWS::SQS::Queue", dlq)]["Properties"]
    assert dlq_props["MessageRetentionPeriod"] == FOURTEEN_DAYS


@pytest.mark.parametrize("queue, function", [("IngestQueue", "Processor"),
                                             ("ConfirmationQueue", "ConfirmationSender")])
def test_functions_read_their_queue_in_small_batches_reporting_item_failures(
        resources, queue, function):
    [mapping] = [r["Properties"] for r in resources.values()
                 if r["Type"] == "AWS::Lambda::EventSourceMapping" and
                 r["Properties"]["EventSourceArn"] == arn_of(resources, "AWS::SQS::Queue", queue)]
    assert mapping["FunctionName"] == ref(resources, "AWS::Lambda::Function", function)
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "MaximumBatchingWindowInSeconds" not in mapping


def test_events_table_schema_gsi_and_ttl(template):
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "event_id", "KeyType": "HASH"}],
        "AttributeDefinitions": Match.array_with([
            {"AttributeName": "event_id", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"}]),
        "GlobalSecondaryIndexes": [Match.object_like({
            "IndexName": "by_status",
            "KeySchema": Match.array_with([{"AttributeName": "status", "KeyType": "HASH"}])})],
        "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        "BillingMode": "PAY_PER_REQUEST"})


def test_idempotency_table_matches_powertools_defaults(template):
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True}})


# --- ways in 2 and 3 ---------------------------------------------------------------------------

def test_bus_rule_sends_pipeline_manual_events_to_the_topic(template, resources):
    template.has_resource_properties("AWS::Events::Rule", {
        "EventBusName": ref(resources, "AWS::Events::EventBus", "Bus"),
        "EventPattern": {"source": ["pipeline.manual"]},
        "State": "ENABLED",
        "Targets": [Match.object_like({"Arn": ref(resources, "AWS::SNS::Topic",
                                                  "PipelineTopic")})]})
    policy = resources[logical_id(resources, "AWS::SNS::TopicPolicy", "PipelineTopicPolicy")]
    assert any(s.get("Principal") == {"Service": "events.amazonaws.com"} and
               s["Action"] == "sns:Publish"
               for s in policy["Properties"]["PolicyDocument"]["Statement"])


def test_api_post_events_is_proxied_to_the_api_handler(template, resources):
    events_resource = logical_id(resources, "AWS::ApiGateway::Resource", "Apievents")
    assert resources[events_resource]["Properties"]["PathPart"] == "events"
    template.has_resource_properties("AWS::ApiGateway::Method", {
        "HttpMethod": "POST", "ResourceId": {"Ref": events_resource},
        "Integration": Match.object_like({"Type": "AWS_PROXY",
                                          "IntegrationHttpMethod": "POST"})})
    method = next(r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method")
    assert logical_id(resources, "AWS::Lambda::Function", "ApiHandler") in json.dumps(
        method["Properties"]["Integration"]["Uri"])
    template.resource_count_is("AWS::ApiGateway::Method", 1)
    template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": "v1"})
    template.resource_count_is("AWS::ApiGateway::Account", 0)  # no CloudWatch role


# --- functions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, module, env", [
    ("Processor", "processor", {"EVENTS_TABLE", "IDEMPOTENCY_TABLE", "CONFIRMATION_QUEUE_URL",
                                "EVENT_TTL_DAYS"}),
    ("ConfirmationSender", "confirmation_sender", {"EVENTS_TABLE", "IDEMPOTENCY_TABLE",
                                                   "NOTIFICATION_TOPIC_ARN"}),
    ("ApiHandler", "api_handler", {"TOPIC_ARN", "IDEMPOTENCY_TABLE"}),
])
def test_functions_run_python_311_with_the_dependency_layer(resources, name, module, env):
    props = resources[logical_id(resources, "AWS::Lambda::Function", name)]["Properties"]
    assert props["Runtime"] == "python3.11"
    assert props["Handler"] == f"functions.upload_pipeline.{module}.handler"
    assert props["Architectures"] == ["x86_64"]
    assert props["Layers"] == [ref(resources, "AWS::Lambda::LayerVersion", "Dependencies")]
    variables = props["Environment"]["Variables"]
    assert env <= set(variables)
    assert variables["POWERTOOLS_SERVICE_NAME"] == module
    assert props["Timeout"] <= 60  # never above the queues' visibility timeout


def test_the_three_functions_plus_cdks_two_bucket_handlers(resources):
    functions = [r["Properties"] for r in resources.values()
                 if r["Type"] == "AWS::Lambda::Function"]
    ours = [f for f in functions if f.get("Handler", "").startswith("functions.upload_pipeline.")]
    assert len(ours) == 3 and len(functions) == 5  # + CDK's notifications and auto-delete
    assert sorted(r["Type"] for r in resources.values() if r["Type"].startswith("Custom::") or
                  r["Type"] == "AWS::CloudFormation::CustomResource") == [
        "Custom::S3AutoDeleteObjects", "Custom::S3BucketNotifications"]


def test_each_function_has_a_log_group_with_retention(resources):
    groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(groups) == 3
    for group in groups:
        name = group["Properties"]["LogGroupName"]["Fn::Join"][1]
        assert name[0] == "/aws/lambda/"
        assert resources[name[1]["Ref"]]["Type"] == "AWS::Lambda::Function"
        assert group["Properties"]["RetentionInDays"] == 7
        assert group["DeletionPolicy"] == "Delete"


def test_stateful_resources_are_destroyed_with_the_stack(resources):
    for resource in resources.values():
        if resource["Type"] in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket",
                                "AWS::Logs::LogGroup", "AWS::Lambda::LayerVersion"):
            assert resource.get("DeletionPolicy") == "Delete", resource


# --- least privilege ------------------------------------------------------------------------------

IDEMPOTENCY = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
               "dynamodb:DeleteItem"}
CONSUME = {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl",
           "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
SEND = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}


def statements_of(resources, function: str) -> list[dict]:
    role = resources[logical_id(resources, "AWS::Lambda::Function", function)][
        "Properties"]["Role"]["Fn::GetAtt"][0]
    found = []
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and \
                {"Ref": role} in resource["Properties"]["Roles"]:
            found += resource["Properties"]["PolicyDocument"]["Statement"]
    return found


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def grants(resources, function: str) -> dict[str, set[str]]:
    """``{resource logical id: actions}`` of a function's inline policies."""
    found: dict[str, set[str]] = {}
    for statement in statements_of(resources, function):
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            key = (resource.get("Fn::GetAtt") or [resource.get("Ref")])[0]
            found.setdefault(key, set()).update(as_list(statement["Action"]))
    return found


def test_no_statement_allows_everything(resources):
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = as_list(statement["Action"])
            assert not [a for a in actions if a == "*" or a.endswith(":*")], statement
            assert "*" not in as_list(statement["Resource"]), statement


def test_roles_have_only_the_basic_execution_managed_policy(resources):
    roles = [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 5  # the three functions' and CDK's two bucket handlers'
    for role in roles:
        [managed] = role["Properties"]["ManagedPolicyArns"]
        assert "service-role/AWSLambdaBasicExecutionRole" in json.dumps(managed)
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"}


def test_processor_may_only_put_events_and_send_confirmations(resources):
    ids = {name: logical_id(resources, type_, name) for name, type_ in [
        ("EventsTable", "AWS::DynamoDB::Table"), ("IdempotencyTable", "AWS::DynamoDB::Table"),
        ("IngestQueue", "AWS::SQS::Queue"), ("ConfirmationQueue", "AWS::SQS::Queue")]}
    assert grants(resources, "Processor") == {
        ids["EventsTable"]: {"dynamodb:PutItem"},
        ids["IdempotencyTable"]: IDEMPOTENCY,
        ids["IngestQueue"]: CONSUME,
        ids["ConfirmationQueue"]: SEND,
    }


def test_confirmation_sender_may_only_update_events_and_publish_notifications(resources):
    assert grants(resources, "ConfirmationSender") == {
        logical_id(resources, "AWS::DynamoDB::Table", "EventsTable"): {"dynamodb:UpdateItem"},
        logical_id(resources, "AWS::DynamoDB::Table", "IdempotencyTable"): IDEMPOTENCY,
        logical_id(resources, "AWS::SQS::Queue", "ConfirmationQueue"): CONSUME,
        logical_id(resources, "AWS::SNS::Topic", "NotificationTopic"): {"sns:Publish"},
    }


def test_api_handler_may_only_publish_to_the_pipeline_topic(resources):
    assert grants(resources, "ApiHandler") == {
        logical_id(resources, "AWS::DynamoDB::Table", "IdempotencyTable"): IDEMPOTENCY,
        logical_id(resources, "AWS::SNS::Topic", "PipelineTopic"): {"sns:Publish"},
    }


def test_only_api_gateway_may_invoke_the_api_handler(resources):
    permissions = [r["Properties"] for r in resources.values()
                   if r["Type"] == "AWS::Lambda::Permission"]
    assert permissions and all(p["Principal"] == "apigateway.amazonaws.com" and
                               p["FunctionName"] == arn_of(resources, "AWS::Lambda::Function",
                                                           "ApiHandler")
                               for p in permissions)


# --- outputs and deployability ----------------------------------------------------------------

def test_all_outputs_are_present(template):
    outputs = template.to_json()["Outputs"]
    missing = [name for name in OUTPUT_NAMES if name not in outputs]
    assert not missing
    assert len(OUTPUT_NAMES) == 11


def test_outputs_point_at_the_right_resources(template, resources):
    outputs = {k: v["Value"] for k, v in template.to_json()["Outputs"].items()}
    assert outputs["TopicArn"] == ref(resources, "AWS::SNS::Topic", "PipelineTopic")
    assert outputs["NotificationTopicArn"] == ref(resources, "AWS::SNS::Topic",
                                                  "NotificationTopic")
    assert outputs["IngestQueueUrl"] == ref(resources, "AWS::SQS::Queue", "IngestQueue")
    assert outputs["IngestDlqUrl"] == ref(resources, "AWS::SQS::Queue", "IngestDlq")
    assert outputs["ConfirmationQueueUrl"] == ref(resources, "AWS::SQS::Queue",
                                                  "ConfirmationQueue")
    assert outputs["ConfirmationDlqUrl"] == ref(resources, "AWS::SQS::Queue", "ConfirmationDlq")
    assert outputs["EventsTableName"] == ref(resources, "AWS::DynamoDB::Table", "EventsTable")
    assert outputs["BucketName"] == ref(resources, "AWS::S3::Bucket", "UploadsBucket")
    assert outputs["EventBusName"] == ref(resources, "AWS::Events::EventBus", "Bus")
    assert outputs["ApiId"] == ref(resources, "AWS::ApiGateway::RestApi", "Api")
    assert outputs["ApiStage"] == ref(resources, "AWS::ApiGateway::Stage", "ApiDeploymentStage")


def test_no_bootstrap_version_parameter(template):
    as_json = template.to_json()
    assert "BootstrapVersion" not in as_json.get("Parameters", {})
    assert "CheckBootstrapVersion" not in as_json.get("Rules", {})


def test_stack_name_is_lsh_pipeline():
    app = build_app(context=NO_BUNDLING, apps=["upload_pipeline"])
    assert [c.stack_name for c in app.node.children if isinstance(c, PipelineStack)] == [
        STACK_NAME] == ["LshPipeline"]


def test_tuning_comes_from_context():
    resources = synth({"retry_delay_seconds": "4", "event_ttl_days": 2}).to_json()["Resources"]
    for queue in ("IngestQueue", "ConfirmationQueue"):
        props = resources[logical_id(resources, "AWS::SQS::Queue", queue)]["Properties"]
        assert props["VisibilityTimeout"] == 4
    processor = resources[logical_id(resources, "AWS::Lambda::Function", "Processor")]
    assert processor["Properties"]["Timeout"] == 4  # never above the visibility timeout
    assert processor["Properties"]["Environment"]["Variables"]["EVENT_TTL_DAYS"] == "2"
