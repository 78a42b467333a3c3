"""The event pipeline: three ways in (S3 upload, REST API, EventBridge bus), one way through.

    uploads bucket ──(event notification)──┐
    POST /events → api_handler ────────────┼─→ pipeline topic ─→ ingest queue ─→ processor
    bus rule (source pipeline.manual) ─────┘        (raw)          │ DLQ after 3   │
                                                                                   ▼
    notifications topic ←─ confirmation_sender ←─ confirmation queue ←─ events table (RECEIVED)
                           (marks CONFIRMED)        │ DLQ after 3

Idiomatic CDK: the bucket notifies the topic through ``bucket.add_event_notification`` and
empties itself when the stack is deleted (``auto_delete_objects``), both CDK custom resources;
log groups are resources of the stack (``log_group``, not the deprecated ``logRetention``).
Each function's role holds only what it uses (narrow ``grant`` calls).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct, Node

from infra.common.stacks import add_outputs, standalone_synthesizer, tuning_from_context
from infra.common.layer import ARCHITECTURE, RUNTIME, dependency_layer_code, function_code

STACK_NAME = "LshPipeline"
BUS_SOURCE = "pipeline.manual"
MAX_RECEIVE_COUNT = 3
BATCH_SIZE = 10
API_STAGE = "v1"
#: what Powertools' DynamoDB idempotency store does with its records, and nothing more
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                       "dynamodb:DeleteItem")
OUTPUT_NAMES = ("BucketName", "TopicArn", "IngestQueueUrl", "IngestDlqUrl", "EventsTableName",
                "ConfirmationQueueUrl", "ConfirmationDlqUrl", "NotificationTopicArn",
                "EventBusName", "ApiId", "ApiStage")


@dataclass(frozen=True)
class PipelineTuning:
    """Knobs read from CDK context (``-c name=value`` or ``cdk.json``); the defaults suit AWS.

    ``retry_delay_seconds`` is the queues' visibility timeout: how long a failed message waits
    before it is delivered again (a test run sets it low, so poison reaches the DLQ in seconds).
    The functions' timeout never exceeds it, as Lambda requires for SQS event sources.
    ``event_ttl_days`` is how long an event item lives (the table's TTL attribute ``ttl``).
    """

    retry_delay_seconds: int = 60
    function_timeout_seconds: int = 15
    event_ttl_days: int = 30

    @classmethod
    def from_context(cls, node: Node) -> "PipelineTuning":
        return tuning_from_context(cls, node)

    @property
    def function_timeout(self) -> int:
        return max(1, min(self.function_timeout_seconds, self.retry_delay_seconds))


class PipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, *,
                 tuning: PipelineTuning | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        tuning = tuning or PipelineTuning.from_context(self.node)
        destroy = cdk.RemovalPolicy.DESTROY
        retention = cdk.Duration.days(14)
        visibility = cdk.Duration.seconds(tuning.retry_delay_seconds)

        def queue_with_dlq(name: str) -> tuple[sqs.Queue, sqs.Queue]:
            dlq = sqs.Queue(self, f"{name}Dlq", retention_period=retention,
                            enforce_ssl=True, removal_policy=destroy)
            queue = sqs.Queue(
                self, f"{name}Queue", retention_period=retention, visibility_timeout=visibility,
                enforce_ssl=True, removal_policy=destroy,
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq,
                                                      max_receive_count=MAX_RECEIVE_COUNT))
            return queue, dlq

        # --- storage ---
        table = ddb.Table(
            self, "EventsTable", removal_policy=destroy,
            partition_key=ddb.Attribute(name="event_id", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute="ttl")
        table.add_global_secondary_index(
            index_name="by_status",
            partition_key=ddb.Attribute(name="status", type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name="received_at", type=ddb.AttributeType.STRING))
        # Powertools' idempotency records: key "id", expiry epoch in "expiration"
        idempotency = ddb.Table(
            self, "IdempotencyTable", removal_policy=destroy,
            partition_key=ddb.Attribute(name="id", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute="expiration")

        # --- the one way through ---
        topic = sns.Topic(self, "PipelineTopic")
        ingest_queue, ingest_dlq = queue_with_dlq("Ingest")
        topic.add_subscription(subs.SqsSubscription(ingest_queue, raw_message_delivery=True))
        confirmation_queue, confirmation_dlq = queue_with_dlq("Confirmation")
        notifications = sns.Topic(self, "NotificationTopic")

        layer = lambda_.LayerVersion(
            self, "Dependencies", code=dependency_layer_code(), removal_policy=destroy,
            compatible_runtimes=[RUNTIME], compatible_architectures=[ARCHITECTURE],
            description="The functions' pinned dependencies (functions/requirements.txt)")
        code = function_code("upload_pipeline")

        def function(name: str, module: str, env: dict[str, str]) -> lambda_.Function:
            fn = lambda_.Function(
                self, name, runtime=RUNTIME, architecture=ARCHITECTURE, code=code,
                handler=f"functions.upload_pipeline.{module}.handler", layers=[layer], memory_size=256,
                timeout=cdk.Duration.seconds(tuning.function_timeout),
                environment={"IDEMPOTENCY_TABLE": idempotency.table_name,
                             "POWERTOOLS_SERVICE_NAME": module, "POWERTOOLS_LOG_LEVEL": "INFO",
                             **env})
            # the group Lambda writes to, made here so it has a retention and goes with the stack
            logs.LogGroup(self, f"{name}Logs", log_group_name=f"/aws/lambda/{fn.function_name}",
                          retention=logs.RetentionDays.ONE_WEEK, removal_policy=destroy)
            idempotency.grant(fn, *IDEMPOTENCY_ACTIONS)
            return fn

        processor = function("Processor", "processor", {
            "EVENTS_TABLE": table.table_name, "EVENT_TTL_DAYS": str(tuning.event_ttl_days),
            "CONFIRMATION_QUEUE_URL": confirmation_queue.queue_url})
        processor.add_event_source(sources.SqsEventSource(
            ingest_queue, batch_size=BATCH_SIZE, report_batch_item_failures=True))
        # table.grant() would add the table's indexes too; the item calls need the table only
        iam.Grant.add_to_principal(grantee=processor, actions=["dynamodb:PutItem"],
                                   resource_arns=[table.table_arn])
        confirmation_queue.grant_send_messages(processor)

        confirmer = function("ConfirmationSender", "confirmation_sender", {
            "EVENTS_TABLE": table.table_name,
            "NOTIFICATION_TOPIC_ARN": notifications.topic_arn})
        confirmer.add_event_source(sources.SqsEventSource(
            confirmation_queue, batch_size=BATCH_SIZE, report_batch_item_failures=True))
        iam.Grant.add_to_principal(grantee=confirmer, actions=["dynamodb:UpdateItem"],
                                   resource_arns=[table.table_arn])
        notifications.grant_publish(confirmer)

        # --- way in 1: uploads ---
        bucket = s3.Bucket(self, "UploadsBucket", removal_policy=destroy, auto_delete_objects=True,
                           block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
                           encryption=s3.BucketEncryption.S3_MANAGED)
        # CDK adds the topic policy statement (this bucket only) and puts the configuration after it
        bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SnsDestination(topic))

        # --- way in 2: the REST API ---
        api_handler = function("ApiHandler", "api_handler", {"TOPIC_ARN": topic.topic_arn})
        topic.grant_publish(api_handler)
        api = apigw.RestApi(self, "Api", rest_api_name=f"{self.stack_name}-api",
                            deploy_options=apigw.StageOptions(stage_name=API_STAGE),
                            cloud_watch_role=False)
        api.root.add_resource("events").add_method("POST", apigw.LambdaIntegration(api_handler))

        # --- way in 3: the bus ---
        bus = events.EventBus(self, "Bus")
        events.Rule(self, "ManualEventsRule", event_bus=bus,
                    event_pattern=events.EventPattern(source=[BUS_SOURCE]),
                    targets=[targets.SnsTopic(topic)])

        add_outputs(self, {
            "BucketName": bucket.bucket_name, "TopicArn": topic.topic_arn,
            "IngestQueueUrl": ingest_queue.queue_url, "IngestDlqUrl": ingest_dlq.queue_url,
            "EventsTableName": table.table_name,
            "ConfirmationQueueUrl": confirmation_queue.queue_url,
            "ConfirmationDlqUrl": confirmation_dlq.queue_url,
            "NotificationTopicArn": notifications.topic_arn, "EventBusName": bus.event_bus_name,
            "ApiId": api.rest_api_id, "ApiStage": api.deployment_stage.stage_name,
            # beyond the pipeline's contract: handy for tests and debugging
            "IdempotencyTableName": idempotency.table_name,
            "ProcessorFunctionName": processor.function_name,
            "ConfirmationSenderFunctionName": confirmer.function_name,
            "ApiHandlerFunctionName": api_handler.function_name,
        })


def add_to(app: cdk.App, stack_name: str = STACK_NAME) -> PipelineStack:
    """Add the upload pipeline's stack to a CDK app (see :mod:`infra.app`)."""
    return PipelineStack(
        app, stack_name, synthesizer=standalone_synthesizer(),
        description="Event pipeline: S3/API/EventBridge -> SNS -> SQS -> Lambda -> DynamoDB -> "
                    "confirmation -> notifications")
