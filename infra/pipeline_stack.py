"""The upload pipeline: three ways in (S3 upload, REST API, EventBridge bus), one way through.

    uploads bucket ──(event notification)──┐
    POST /events → api_handler ────────────┼─→ pipeline topic ─→ ingest queue ─→ processor
    bus rule (source pipeline.manual) ─────┘        (raw)          │ DLQ after 3   │
                                                                                   ▼
    notifications topic ←─ confirmation_sender ←─ confirmation queue ←─ events table (RECEIVED)
                           (marks CONFIRMED)        │ DLQ after 3

Idempotency (AWS Lambda Powertools, DynamoDB persistence) makes duplicate deliveries harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct, Node

from infra.layer import build_dependency_layer, layer_digest

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
MAX_RECEIVE_COUNT = 3
BUS_SOURCE = "pipeline.manual"


@dataclass(frozen=True)
class PipelineTuning:
    """Knobs read from CDK context (``-c name=value``); the defaults suit AWS.

    ``retry_delay_seconds`` is the queues' visibility timeout: how long a failed message waits
    before it is delivered again (tests set it low so poison reaches the DLQ in seconds). The
    functions' timeout never exceeds it, as Lambda requires for SQS event sources.
    """

    retry_delay_seconds: int = 60
    function_timeout_seconds: int = 15
    event_ttl_days: int = 30

    @classmethod
    def from_context(cls, node: Node) -> "PipelineTuning":
        def get(name: str, default: int) -> int:
            value = node.try_get_context(name)
            return int(value) if value is not None else default

        return cls(get("retry_delay_seconds", cls.retry_delay_seconds),
                   get("function_timeout_seconds", cls.function_timeout_seconds),
                   get("event_ttl_days", cls.event_ttl_days))

    @property
    def function_timeout(self) -> int:
        return min(self.function_timeout_seconds, self.retry_delay_seconds)


class PipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str,
                 tuning: PipelineTuning = PipelineTuning(), **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        destroy = cdk.RemovalPolicy.DESTROY
        retention = cdk.Duration.days(14)
        visibility = cdk.Duration.seconds(tuning.retry_delay_seconds)

        # --- the one way through: topic → ingest queue → processor → table → confirmation ---
        topic = sns.Topic(self, "PipelineTopic")
        ingest_dlq = sqs.Queue(self, "IngestDlq", retention_period=retention,
                               enforce_ssl=True, removal_policy=destroy)
        ingest_queue = sqs.Queue(
            self, "IngestQueue", retention_period=retention, visibility_timeout=visibility,
            enforce_ssl=True, removal_policy=destroy,
            dead_letter_queue=sqs.DeadLetterQueue(queue=ingest_dlq,
                                                  max_receive_count=MAX_RECEIVE_COUNT))
        topic.add_subscription(subs.SqsSubscription(ingest_queue, raw_message_delivery=True))

        table = ddb.Table(
            self, "EventsTable", removal_policy=destroy,
            partition_key=ddb.Attribute(name="event_id", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute="ttl")
        table.add_global_secondary_index(
            index_name="by_status",
            partition_key=ddb.Attribute(name="status", type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name="received_at", type=ddb.AttributeType.STRING))
        idempotency = ddb.Table(
            self, "IdempotencyTable", removal_policy=destroy,
            partition_key=ddb.Attribute(name="id", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute="expiration")

        confirmation_dlq = sqs.Queue(self, "ConfirmationDlq", retention_period=retention,
                                     enforce_ssl=True, removal_policy=destroy)
        confirmation_queue = sqs.Queue(
            self, "ConfirmationQueue", retention_period=retention, visibility_timeout=visibility,
            enforce_ssl=True, removal_policy=destroy,
            dead_letter_queue=sqs.DeadLetterQueue(queue=confirmation_dlq,
                                                  max_receive_count=MAX_RECEIVE_COUNT))
        notifications = sns.Topic(self, "NotificationTopic")

        layer = lambda_.LayerVersion(
            self, "Dependencies",
            # the pins identify the content: CDK need not hash the layer's thousands of files
            code=lambda_.Code.from_asset(str(build_dependency_layer()),
                                         asset_hash=layer_digest(),
                                         asset_hash_type=cdk.AssetHashType.CUSTOM),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_11],
            description="aws-lambda-powertools and pydantic (infra/layer-requirements.txt)")
        common_env = {
            "EVENTS_TABLE": table.table_name,
            "IDEMPOTENCY_TABLE": idempotency.table_name,
            "EVENT_TTL_DAYS": str(tuning.event_ttl_days),
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }

        def function(name: str, handler: str, env: dict[str, str]) -> lambda_.Function:
            return lambda_.Function(
                self, name, runtime=lambda_.Runtime.PYTHON_3_11, handler=handler,
                code=lambda_.Code.from_asset(str(FUNCTIONS_DIR),
                                             exclude=["**/__pycache__", "*.pyc", "tests"]),
                layers=[layer], timeout=cdk.Duration.seconds(tuning.function_timeout),
                memory_size=256,
                environment={**common_env, **env, "POWERTOOLS_SERVICE_NAME": handler.split(".")[0]})

        processor = function("Processor", "processor.handler",
                             {"CONFIRMATION_QUEUE_URL": confirmation_queue.queue_url})
        processor.add_event_source(sources.SqsEventSource(
            ingest_queue, batch_size=10, report_batch_item_failures=True))
        table.grant_read_write_data(processor)
        idempotency.grant_read_write_data(processor)
        confirmation_queue.grant_send_messages(processor)

        confirmer = function("ConfirmationSender", "confirmation_sender.handler",
                             {"NOTIFICATION_TOPIC_ARN": notifications.topic_arn})
        confirmer.add_event_source(sources.SqsEventSource(
            confirmation_queue, batch_size=10, report_batch_item_failures=True))
        table.grant_read_write_data(confirmer)
        idempotency.grant_read_write_data(confirmer)
        notifications.grant_publish(confirmer)

        # --- way in 1: uploads ---
        bucket = s3.Bucket(self, "UploadsBucket", removal_policy=destroy,
                           block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True)
        # The notification is set on the CfnBucket rather than with bucket.add_event_notification:
        # that one deploys a custom resource (a Lambda) which some emulators skip; this form is
        # plain CloudFormation, the same on AWS. S3 checks it may publish when the bucket is
        # created, so the bucket waits for the topic policy.
        topic.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowS3Notifications", actions=["sns:Publish"], resources=[topic.topic_arn],
            principals=[iam.ServicePrincipal("s3.amazonaws.com")],
            conditions={"StringEquals": {"aws:SourceAccount": self.account}}))
        cfn_bucket: s3.CfnBucket = bucket.node.default_child
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            topic_configurations=[s3.CfnBucket.TopicConfigurationProperty(
                event="s3:ObjectCreated:*", topic=topic.topic_arn)])
        cfn_bucket.node.add_dependency(topic.node.find_child("Policy"))

        # --- way in 2: the REST API ---
        api_handler = function("ApiHandler", "api_handler.handler", {"TOPIC_ARN": topic.topic_arn})
        topic.grant_publish(api_handler)
        idempotency.grant_read_write_data(api_handler)
        api = apigw.RestApi(self, "Api", rest_api_name="lsh-pipeline",
                            deploy_options=apigw.StageOptions(stage_name="v1"),
                            cloud_watch_role=False)
        api.root.add_resource("events").add_method("POST", apigw.LambdaIntegration(api_handler))

        # --- way in 3: the bus ---
        bus = events.EventBus(self, "Bus")
        events.Rule(self, "ManualEventsRule", event_bus=bus,
                    event_pattern=events.EventPattern(source=[BUS_SOURCE]),
                    targets=[targets.SnsTopic(topic)])

        for name, value in {
            "BucketName": bucket.bucket_name, "TopicArn": topic.topic_arn,
            "IngestQueueUrl": ingest_queue.queue_url, "IngestDlqUrl": ingest_dlq.queue_url,
            "EventsTableName": table.table_name,
            "ConfirmationQueueUrl": confirmation_queue.queue_url,
            "ConfirmationDlqUrl": confirmation_dlq.queue_url,
            "NotificationTopicArn": notifications.topic_arn, "EventBusName": bus.event_bus_name,
            "ApiId": api.rest_api_id, "ApiStage": api.deployment_stage.stage_name,
            "IdempotencyTableName": idempotency.table_name,
            "ProcessorFunctionName": processor.function_name,
            "ConfirmationSenderFunctionName": confirmer.function_name,
            "ApiHandlerFunctionName": api_handler.function_name,
        }.items():
            cdk.CfnOutput(self, name, value=value)
