"""Order routing (seed 001): one custom EventBridge bus, four rules, three processors, a workflow.

    bus ─ rule orders (Order Created | Order Completed) ──→ order processor ──→ orders table
     │                                                       │  │   ▲            + SNS topic
     │                                      reservation ─────┘  │   └── order queue (DLQ)
     │                                      requests            │        reservation results
     │                                          ▼               │            ▲
     │                                   inventory queue (DLQ)  │            │
     │                                          ▼               │            │
     ├ rule inventory (Inventory Updated) ──→ inventory processor ──→ inventory table
     ├ rule notifications (Notification Sent) → notification processor ──→ SNS topic
     └ rule workflow (Workflow Triggered) ──→ state machine: Parallel(ProcessOrder, ProcessInventory)

Where the two queues sit (the seed calls them "async order processing" and "async inventory
updates"): an accepted order asks the inventory for its items through the **inventory queue**
(one reservation request per order, all items or none); the inventory processor answers on the
**order queue** (RESERVED, or REJECTED with the reason) and the order processor writes that answer
on the order. Each queue has its DLQ (3 receives, visibility 30 s as in the seed): a message no
consumer can read ends there, with its reason logged by the consumer.

Failed asynchronous invocations are kept: every rule target has a dead-letter queue (events
EventBridge could not deliver) and every function an on-failure destination (events whose
invocation failed after Lambda's retries; the record holds the error type and message).

Plain CloudFormation, no custom resources; least-privilege IAM; deployable to AWS unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, Node

from infra.common.stacks import add_outputs, standalone_synthesizer, tuning_from_context
from infra.common.layer import ARCHITECTURE, RUNTIME, dependency_layer_code, function_code

STACK_NAME = "LshOrderRouting"
MAX_RECEIVE_COUNT = 3
BATCH_SIZE = 10
#: the rules as the seed writes them: name -> (source, detail-types)
RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "orders": ("orders", ("Order Created", "Order Completed")),
    "inventory": ("inventory", ("Inventory Updated",)),
    "notifications": ("notifications", ("Notification Sent",)),
    "workflow": ("workflow", ("Workflow Triggered",)),
}
#: errors of the Lambda service itself (not of the function's code): worth retrying
TRANSIENT_LAMBDA_ERRORS = ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                           "Lambda.SdkClientException", "Lambda.TooManyRequestsException"]
OUTPUT_NAMES = ("EventBusName", "OrderProcessorFunctionName", "InventoryProcessorFunctionName",
                "NotificationProcessorFunctionName", "StateMachineArn", "OrdersTableName",
                "InventoryTableName", "NotificationTopicArn", "OrderQueueUrl", "OrderDlqUrl",
                "InventoryQueueUrl", "InventoryDlqUrl")


@dataclass(frozen=True)
class RoutingTuning:
    """Knobs read from CDK context; the defaults are the seed's (and suit AWS).

    ``retry_delay_seconds``: the queues' visibility timeout (a test run sets it low so poison
    reaches a DLQ in seconds); the functions' timeout never exceeds it (Lambda requires that of SQS
    event sources). ``async_retry_attempts``: how often Lambda retries a failed asynchronous
    invocation (from EventBridge) before it goes to the on-failure destination (0-2).
    """

    retry_delay_seconds: int = 30
    function_timeout_seconds: int = 30
    async_retry_attempts: int = 2

    @classmethod
    def from_context(cls, node: Node) -> "RoutingTuning":
        return tuning_from_context(cls, node)

    @property
    def function_timeout(self) -> int:
        return max(1, min(self.function_timeout_seconds, self.retry_delay_seconds))


class OrderRoutingStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, *,
                 tuning: RoutingTuning | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        tuning = tuning or RoutingTuning.from_context(self.node)
        destroy = cdk.RemovalPolicy.DESTROY
        retention = cdk.Duration.days(14)

        def queue_with_dlq(name: str) -> tuple[sqs.Queue, sqs.Queue]:
            dlq = sqs.Queue(self, f"{name}Dlq", retention_period=retention, enforce_ssl=True,
                            removal_policy=destroy)
            queue = sqs.Queue(
                self, f"{name}Queue", retention_period=retention, enforce_ssl=True,
                visibility_timeout=cdk.Duration.seconds(tuning.retry_delay_seconds),
                removal_policy=destroy,
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq,
                                                      max_receive_count=MAX_RECEIVE_COUNT))
            return queue, dlq

        # --- storage and messaging ---
        def table(name: str, key: str) -> ddb.Table:
            return ddb.Table(self, name, removal_policy=destroy,
                             partition_key=ddb.Attribute(name=key, type=ddb.AttributeType.STRING),
                             billing_mode=ddb.BillingMode.PAY_PER_REQUEST)

        orders = table("OrdersTable", "order_id")
        inventory = table("InventoryTable", "item_id")
        topic = sns.Topic(self, "NotificationTopic")
        order_queue, order_dlq = queue_with_dlq("Order")
        inventory_queue, inventory_dlq = queue_with_dlq("Inventory")
        # events EventBridge could not deliver to a target, and invocations that failed
        target_dlq = sqs.Queue(self, "EventTargetDlq", retention_period=retention,
                               enforce_ssl=True, removal_policy=destroy)
        async_failures = sqs.Queue(self, "AsyncFailureQueue", retention_period=retention,
                                   enforce_ssl=True, removal_policy=destroy)

        # --- functions ---
        layer = lambda_.LayerVersion(
            self, "Dependencies", code=dependency_layer_code(), removal_policy=destroy,
            compatible_runtimes=[RUNTIME], compatible_architectures=[ARCHITECTURE],
            description="The functions' pinned dependencies (functions/requirements.txt)")
        code = function_code("order_routing")

        def function(name: str, module: str, env: dict[str, str]) -> lambda_.Function:
            fn = lambda_.Function(
                self, name, runtime=RUNTIME, architecture=ARCHITECTURE, code=code,
                handler=f"functions.order_routing.{module}.handler", layers=[layer],
                memory_size=256, timeout=cdk.Duration.seconds(tuning.function_timeout),
                environment={"POWERTOOLS_SERVICE_NAME": module, "POWERTOOLS_LOG_LEVEL": "INFO",
                             **env})
            logs.LogGroup(self, f"{name}Logs", log_group_name=f"/aws/lambda/{fn.function_name}",
                          retention=logs.RetentionDays.ONE_WEEK, removal_policy=destroy)
            fn.configure_async_invoke(
                on_failure=destinations.SqsDestination(async_failures),
                retry_attempts=tuning.async_retry_attempts,
                max_event_age=cdk.Duration.hours(6))
            return fn

        def allow(fn: lambda_.Function, t: ddb.Table, *actions: str) -> None:
            # table.grant() would add index ARNs too; these calls need the table only
            iam.Grant.add_to_principal(grantee=fn, actions=[f"dynamodb:{a}" for a in actions],
                                       resource_arns=[t.table_arn])

        order_fn = function("OrderProcessor", "order_processor", {
            "ORDERS_TABLE": orders.table_name, "NOTIFICATION_TOPIC_ARN": topic.topic_arn,
            "INVENTORY_QUEUE_URL": inventory_queue.queue_url})
        allow(order_fn, orders, "PutItem", "UpdateItem", "GetItem")
        inventory_queue.grant_send_messages(order_fn)
        topic.grant_publish(order_fn)
        order_fn.add_event_source(sources.SqsEventSource(
            order_queue, batch_size=BATCH_SIZE, report_batch_item_failures=True))

        inventory_fn = function("InventoryProcessor", "inventory_processor", {
            "INVENTORY_TABLE": inventory.table_name, "ORDERS_TABLE": orders.table_name,
            "ORDER_QUEUE_URL": order_queue.queue_url})
        allow(inventory_fn, inventory, "UpdateItem", "GetItem")
        allow(inventory_fn, orders, "GetItem")
        order_queue.grant_send_messages(inventory_fn)
        inventory_fn.add_event_source(sources.SqsEventSource(
            inventory_queue, batch_size=BATCH_SIZE, report_batch_item_failures=True))

        notification_fn = function("NotificationProcessor", "notification_processor", {
            "NOTIFICATION_TOPIC_ARN": topic.topic_arn})
        topic.grant_publish(notification_fn)

        # --- the workflow: order and inventory processing side by side ---
        def branch(state: str, fn: lambda_.Function, failed: str) -> sfn.IChainable:
            task = tasks.LambdaInvoke(
                self, state, lambda_function=fn, payload_response_only=True,
                retry_on_service_exceptions=False,
                payload=sfn.TaskInput.from_object({
                    "workflow_id": sfn.JsonPath.string_at("$.detail.workflow_id"),
                    "order_id": sfn.JsonPath.string_at("$.detail.order_id")}))
            task.add_retry(errors=TRANSIENT_LAMBDA_ERRORS, interval=cdk.Duration.seconds(1),
                           max_attempts=3, backoff_rate=2)
            task.add_catch(sfn.Fail(self, failed, error=failed,
                                    cause_path=sfn.JsonPath.string_at("$.error.Cause")),
                           result_path="$.error")
            return task

        parallel = sfn.Parallel(self, "ProcessOrderAndInventory", result_selector={
            "order.$": "$[0]", "inventory.$": "$[1]"}, result_path="$.results")
        parallel.branch(branch("ProcessOrder", order_fn, "OrderProcessingFailed"))
        parallel.branch(branch("ProcessInventory", inventory_fn, "InventoryProcessingFailed"))
        done = sfn.Pass(self, "WorkflowDone", parameters={
            "workflow_id": sfn.JsonPath.string_at("$.detail.workflow_id"),
            "order.$": "$.results.order", "inventory.$": "$.results.inventory"})
        machine = sfn.StateMachine(
            self, "Workflow", definition_body=sfn.DefinitionBody.from_chainable(
                parallel.next(done)),
            timeout=cdk.Duration.minutes(5), tracing_enabled=True)

        # --- the bus and its four rules ---
        bus = events.EventBus(self, "Bus")
        processors = {"orders": order_fn, "inventory": inventory_fn,
                      "notifications": notification_fn}
        for name, (source, detail_types) in RULES.items():
            if name == "workflow":
                target = targets.SfnStateMachine(machine, dead_letter_queue=target_dlq,
                                                 retry_attempts=2)
            else:
                target = targets.LambdaFunction(processors[name], dead_letter_queue=target_dlq,
                                                retry_attempts=2)
            events.Rule(self, f"{name.capitalize()}EventsRule", event_bus=bus,
                        description=f"{source} / {' | '.join(detail_types)}",
                        event_pattern=events.EventPattern(source=[source],
                                                          detail_type=list(detail_types)),
                        targets=[target])

        add_outputs(self, {
            "EventBusName": bus.event_bus_name,
            "OrderProcessorFunctionName": order_fn.function_name,
            "InventoryProcessorFunctionName": inventory_fn.function_name,
            "NotificationProcessorFunctionName": notification_fn.function_name,
            "StateMachineArn": machine.state_machine_arn,
            "OrdersTableName": orders.table_name, "InventoryTableName": inventory.table_name,
            "NotificationTopicArn": topic.topic_arn,
            "OrderQueueUrl": order_queue.queue_url, "OrderDlqUrl": order_dlq.queue_url,
            "InventoryQueueUrl": inventory_queue.queue_url,
            "InventoryDlqUrl": inventory_dlq.queue_url,
            # beyond the seed's contract: where failed deliveries and invocations are kept
            "EventTargetDlqUrl": target_dlq.queue_url,
            "AsyncFailureQueueUrl": async_failures.queue_url,
        })


def add_to(app: cdk.App, stack_name: str = STACK_NAME) -> OrderRoutingStack:
    """Add the order-routing stack to a CDK app (see :mod:`infra.app`)."""
    return OrderRoutingStack(
        app, stack_name,
        synthesizer=standalone_synthesizer(),
        description="Order routing: EventBridge bus -> order/inventory/notification processors "
                    "and a Step Functions workflow")
