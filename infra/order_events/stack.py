"""The order-events app (seed 000): an order event goes through an EventBridge rule to a processor
that stores it, queryable by event type and time.

    invoke publisher ─(PutEvents)→ order-events bus ─ rule: source custom.myapp,
                                                       detail-type order_placed,
                                                       detail.status PLACED
                                                     ─→ processor (async) ─→ orders table
                                                                             GSI by_event_type
    the processor's failed events (after its async retries) ─→ dead-letter queue (with reason)

Both functions are traced with X-Ray (``Tracing.ACTIVE``), as in the seed. Each function's role
holds only what it uses: the publisher may put events on this bus, the processor may put items
in this table. Plain CloudFormation throughout (no custom resources).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct, Node

from infra.common.stacks import add_outputs, standalone_synthesizer, tuning_from_context
from infra.common.layer import ARCHITECTURE, RUNTIME, dependency_layer_code, function_code

STACK_NAME = "LshOrderEvents"
SOURCE = "custom.myapp"
ORDER_PLACED = "order_placed"
#: the rule's pattern, exactly the seed's
ORDER_PLACED_PATTERN = {"source": [SOURCE], "detail-type": [ORDER_PLACED],
                        "detail": {"status": ["PLACED"]}}
EVENTS_BY_TYPE_INDEX = "by_event_type"
OUTPUT_NAMES = ("EventPublisherFunctionName", "OrderProcessorFunctionName", "EventsTableName",
                "EventsByTypeIndexName")


@dataclass(frozen=True)
class OrderEventsTuning:
    """Knobs read from CDK context; the defaults suit AWS.

    ``processor_retry_attempts``: how often Lambda retries a failed asynchronous invocation of
    the processor (0–2) before the event goes to the dead-letter queue (a test run sets 0).
    """

    processor_retry_attempts: int = 2

    @classmethod
    def from_context(cls, node: Node) -> "OrderEventsTuning":
        return tuning_from_context(cls, node)


class OrderEventsStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, *,
                 tuning: OrderEventsTuning | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        tuning = tuning or OrderEventsTuning.from_context(self.node)
        destroy = cdk.RemovalPolicy.DESTROY

        table = ddb.Table(
            self, "EventsTable", removal_policy=destroy,
            partition_key=ddb.Attribute(name="order_id", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST)
        # "all order_placed events between t1 and t2": event_type = :t AND timestamp BETWEEN
        table.add_global_secondary_index(
            index_name=EVENTS_BY_TYPE_INDEX,
            partition_key=ddb.Attribute(name="event_type", type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name="timestamp", type=ddb.AttributeType.STRING))
        bus = events.EventBus(self, "Bus")
        dead_letters = sqs.Queue(self, "ProcessorDlq", retention_period=cdk.Duration.days(14),
                                 enforce_ssl=True, removal_policy=destroy)

        layer = lambda_.LayerVersion(
            self, "Dependencies", code=dependency_layer_code(), removal_policy=destroy,
            compatible_runtimes=[RUNTIME], compatible_architectures=[ARCHITECTURE],
            description="The functions' pinned dependencies (functions/requirements.txt)")
        code = function_code("order_events")

        def function(name: str, module: str, env: dict[str, str], **extra) -> lambda_.Function:
            fn = lambda_.Function(
                self, name, runtime=RUNTIME, architecture=ARCHITECTURE, code=code,
                handler=f"functions.order_events.{module}.handler", layers=[layer],
                memory_size=256, timeout=cdk.Duration.seconds(10),
                tracing=lambda_.Tracing.ACTIVE,
                environment={"POWERTOOLS_SERVICE_NAME": module, "POWERTOOLS_LOG_LEVEL": "INFO",
                             **env}, **extra)
            logs.LogGroup(self, f"{name}Logs", log_group_name=f"/aws/lambda/{fn.function_name}",
                          retention=logs.RetentionDays.ONE_WEEK, removal_policy=destroy)
            return fn

        publisher = function("EventPublisher", "publisher", {
            "EVENT_BUS_NAME": bus.event_bus_name, "EVENT_SOURCE": SOURCE})
        bus.grant_put_events_to(publisher)

        processor = function("OrderProcessor", "processor", {"EVENTS_TABLE": table.table_name},
                             dead_letter_queue=dead_letters,
                             retry_attempts=tuning.processor_retry_attempts)
        # table.grant() would add the indexes too; the processor only puts items
        iam.Grant.add_to_principal(grantee=processor, actions=["dynamodb:PutItem"],
                                   resource_arns=[table.table_arn])

        rule = events.Rule(self, "OrderPlacedRule", event_bus=bus,
                           event_pattern=events.EventPattern(
                               source=ORDER_PLACED_PATTERN["source"],
                               detail_type=ORDER_PLACED_PATTERN["detail-type"],
                               detail=ORDER_PLACED_PATTERN["detail"]))
        # an event EventBridge cannot hand to the processor ends in the same queue
        rule.add_target(targets.LambdaFunction(processor, dead_letter_queue=dead_letters))

        add_outputs(self, {
            "EventPublisherFunctionName": publisher.function_name,
            "OrderProcessorFunctionName": processor.function_name,
            "EventsTableName": table.table_name,
            "EventsByTypeIndexName": EVENTS_BY_TYPE_INDEX,
            # beyond the seed's outputs: handy for tests and debugging
            "OrderEventBusName": bus.event_bus_name,
            "OrderPlacedRuleName": rule.rule_name,
            "ProcessorDlqUrl": dead_letters.queue_url,
        })


def add_to(app: cdk.App, stack_name: str = STACK_NAME) -> OrderEventsStack:
    """Add the order-events stack to a CDK app (see :mod:`infra.app`)."""
    return OrderEventsStack(
        app, stack_name,
        synthesizer=standalone_synthesizer(),
        description="Order events: publisher Lambda -> EventBridge rule -> processor Lambda -> "
                    "DynamoDB (GSI by event type and time)")
