"""The order saga (seed 002): four services on a custom bus, orchestrated by a state machine.

    client ─→ Order ─(Order Created)─→ bus ─(rule)─→ state machine
                                                       │
    ProcessPayment ─→ CheckPaymentStatus ─→ ReserveInventory ─→ CheckInventoryStatus
       │ (declined / retries exhausted)        │ (unavailable / retries exhausted)
       ▼                                       ▼
    MarkPaymentFailed ─→ NotifyPaymentFailed   RefundPayment ─→ CancelOrder ─→ NotifyOrderCancelled
       ─→ PaymentFailed (Fail)                    ─→ InventoryFailed (Fail)
    CheckInventoryStatus (reserved) ─→ CompleteOrder ─→ SendNotification ─→ OrderCompleted
                                       (a failed notification ─→ NotificationFailed ─→ OrderCompleted)

Every service call retries service exceptions with exponential backoff (``retry_interval_seconds``
× ``retry_backoff_rate``, ``retry_max_attempts`` retries); the refund is the saga's compensating
transaction for a payment whose order cannot be fulfilled. The state machine writes the order's
final status (``COMPLETED``, ``PAYMENT_FAILED``, ``CANCELLED`` with ``refundId``) with DynamoDB
service integrations, so a status is written whatever a service answered.

Plain CloudFormation (no custom resources): log groups with 14-day retention are resources of the
stack. Least privilege: each function's role can put events on the bus, only the order service
can write the table, the state machine can invoke the four functions and update the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, Node

from infra.common.stacks import add_outputs, standalone_synthesizer, tuning_from_context
from infra.common.layer import ARCHITECTURE, RUNTIME, dependency_layer_code, function_code

STACK_NAME = "LshOrderSaga"
APP = "order_saga"
#: the ``source`` of the services' events (functions.order_saga.common.SOURCE)
EVENT_SOURCE = "order.saga"
CUSTOMER_INDEX = "CustomerId-Index"
OUTPUT_NAMES = ("OrderServiceName", "PaymentServiceName", "InventoryServiceName",
                "NotificationServiceName", "StateMachineArn", "OrdersTableName", "EventBusName")
#: the errors a service call retries: any failure of the function (its exceptions, Lambda's
#: service errors) and a timeout; a business answer ("declined") is a result, not an error
RETRIED_ERRORS = ["States.TaskFailed", "States.Timeout"]


@dataclass(frozen=True)
class SagaTuning:
    """Knobs read from CDK context (``-c name=value``); the defaults are the seed's."""

    payment_success_rate: str = "0.9"
    inventory_availability_rate: str = "0.95"
    function_timeout_seconds: int = 30
    retry_interval_seconds: int = 2
    retry_backoff_rate: float = 2.0
    retry_max_attempts: int = 3

    @classmethod
    def from_context(cls, node: Node) -> "SagaTuning":
        return tuning_from_context(cls, node)


class OrderSagaStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, *,
                 tuning: SagaTuning | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        tuning = tuning or SagaTuning.from_context(self.node)
        destroy = cdk.RemovalPolicy.DESTROY

        table = ddb.Table(
            self, "OrdersTable", removal_policy=destroy,
            partition_key=ddb.Attribute(name="orderId", type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name="customerId", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST)
        table.add_global_secondary_index(
            index_name=CUSTOMER_INDEX,
            partition_key=ddb.Attribute(name="customerId", type=ddb.AttributeType.STRING))
        bus = events.EventBus(self, "EventBus")

        layer = lambda_.LayerVersion(
            self, "Dependencies", code=dependency_layer_code(), removal_policy=destroy,
            compatible_runtimes=[RUNTIME], compatible_architectures=[ARCHITECTURE],
            description="The functions' pinned dependencies (functions/requirements.txt)")
        code = function_code(APP)

        def service(name: str, module: str, env: dict[str, str] | None = None) -> lambda_.Function:
            fn = lambda_.Function(
                self, name, runtime=RUNTIME, architecture=ARCHITECTURE, code=code,
                handler=f"functions.{APP}.{module}.handler", layers=[layer], memory_size=256,
                timeout=cdk.Duration.seconds(tuning.function_timeout_seconds),
                environment={"EVENT_BUS_NAME": bus.event_bus_name,
                             "POWERTOOLS_SERVICE_NAME": module, "POWERTOOLS_LOG_LEVEL": "INFO",
                             **(env or {})})
            logs.LogGroup(self, f"{name}Logs", log_group_name=f"/aws/lambda/{fn.function_name}",
                          retention=logs.RetentionDays.TWO_WEEKS, removal_policy=destroy)
            bus.grant_put_events_to(fn)
            return fn

        order_fn = service("OrderService", "order_service", {"ORDERS_TABLE": table.table_name})
        iam.Grant.add_to_principal(grantee=order_fn, actions=["dynamodb:PutItem"],
                                   resource_arns=[table.table_arn])
        payment_fn = service("PaymentService", "payment_service",
                             {"PAYMENT_SUCCESS_RATE": tuning.payment_success_rate})
        inventory_fn = service("InventoryService", "inventory_service",
                               {"INVENTORY_AVAILABILITY_RATE": tuning.inventory_availability_rate})
        notification_fn = service("NotificationService", "notification_service")

        machine = self._state_machine(tuning, table, payment_fn, inventory_fn, notification_fn)
        events.Rule(self, "OrderCreatedRule", event_bus=bus,
                    description="Starts the order saga for every new order",
                    event_pattern=events.EventPattern(source=[EVENT_SOURCE],
                                                      detail_type=["Order Created"]),
                    targets=[targets.SfnStateMachine(
                        machine, input=events.RuleTargetInput.from_event_path("$.detail"))])

        self._dashboard([order_fn, payment_fn, inventory_fn, notification_fn], machine)
        add_outputs(self, {
            "OrderServiceName": order_fn.function_name,
            "PaymentServiceName": payment_fn.function_name,
            "InventoryServiceName": inventory_fn.function_name,
            "NotificationServiceName": notification_fn.function_name,
            "StateMachineArn": machine.state_machine_arn,
            "OrdersTableName": table.table_name,
            "EventBusName": bus.event_bus_name})

    def _state_machine(self, tuning: SagaTuning, table: ddb.Table, payment_fn: lambda_.Function,
                       inventory_fn: lambda_.Function,
                       notification_fn: lambda_.Function) -> sfn.StateMachine:
        path = sfn.JsonPath

        def call(state: str, fn: lambda_.Function, payload: dict, result: str) -> tasks.LambdaInvoke:
            task = tasks.LambdaInvoke(
                self, state, lambda_function=fn, payload=sfn.TaskInput.from_object(payload),
                payload_response_only=True, retry_on_service_exceptions=False,
                result_path=result)
            task.add_retry(errors=RETRIED_ERRORS,
                           interval=cdk.Duration.seconds(tuning.retry_interval_seconds),
                           backoff_rate=tuning.retry_backoff_rate,
                           max_attempts=tuning.retry_max_attempts)
            return task

        def order_key() -> dict:
            return {"orderId": tasks.DynamoAttributeValue.from_string(path.string_at("$.orderId")),
                    "customerId": tasks.DynamoAttributeValue.from_string(
                        path.string_at("$.customerId"))}

        def set_status(state: str, status: str, **more: str) -> tasks.DynamoUpdateItem:
            """Write the order's final status (and the ids in ``more``: attribute -> JSON path)."""
            sets = ["#status = :status", "updatedAt = :now", *(f"{k} = :{k}" for k in more)]
            values = {":status": tasks.DynamoAttributeValue.from_string(status),
                      ":now": tasks.DynamoAttributeValue.from_string(
                          path.string_at("$$.State.EnteredTime")),
                      **{f":{k}": tasks.DynamoAttributeValue.from_string(path.string_at(v))
                         for k, v in more.items()}}
            task = tasks.DynamoUpdateItem(
                self, state, table=table, key=order_key(),
                update_expression="SET " + ", ".join(sets),
                expression_attribute_names={"#status": "status"},
                expression_attribute_values=values, result_path=path.DISCARD)
            task.add_retry(errors=RETRIED_ERRORS, interval=cdk.Duration.seconds(1),
                           backoff_rate=2.0, max_attempts=3)
            return task

        def notify(state: str, kind: str) -> tasks.LambdaInvoke:
            return call(state, notification_fn, {
                "orderId": path.string_at("$.orderId"),
                "customerId": path.string_at("$.customerId"), "kind": kind}, "$.notification")

        # failure: payment declined (or its retries ran out)
        payment_failed = sfn.Fail(self, "PaymentFailed", error="PaymentFailed",
                                  cause="The payment was declined or could not be processed")
        notify_payment_failed = notify("NotifyPaymentFailed", "PAYMENT_FAILED")
        notify_payment_failed.add_catch(payment_failed, result_path="$.notificationError")
        mark_payment_failed = set_status("MarkPaymentFailed", "PAYMENT_FAILED")
        mark_payment_failed.next(notify_payment_failed).next(payment_failed)

        # compensation: inventory unavailable after the payment went through
        inventory_failed = sfn.Fail(self, "InventoryFailed", error="InventoryFailed",
                                    cause="Items unavailable: payment refunded, order cancelled")
        refund = call("RefundPayment", payment_fn, {
            "action": "refund", "orderId": path.string_at("$.orderId"),
            "paymentId": path.string_at("$.payment.paymentId"),
            "amount": path.string_at("$.totalAmount")}, "$.refund")
        notify_cancelled = notify("NotifyOrderCancelled", "ORDER_CANCELLED")
        notify_cancelled.add_catch(inventory_failed, result_path="$.notificationError")
        refund.next(set_status("CancelOrder", "CANCELLED", paymentId="$.payment.paymentId",
                               refundId="$.refund.refundId")
                    ).next(notify_cancelled).next(inventory_failed)

        # the happy path; a failed notification does not undo a completed order
        completed = sfn.Succeed(self, "OrderCompleted")
        send_notification = notify("SendNotification", "ORDER_COMPLETED")
        send_notification.add_catch(sfn.Pass(self, "NotificationFailed").next(completed),
                                    result_path="$.notificationError")
        complete = set_status("CompleteOrder", "COMPLETED", paymentId="$.payment.paymentId")
        complete.next(send_notification).next(completed)

        reserve = call("ReserveInventory", inventory_fn, {
            "orderId": path.string_at("$.orderId"), "items": path.object_at("$.items")},
            "$.inventory")
        reserve.add_catch(refund, result_path="$.error")
        reserve.next(sfn.Choice(self, "CheckInventoryStatus")
                     .when(sfn.Condition.string_equals("$.inventory.status", "RESERVED"), complete)
                     .otherwise(refund))

        process_payment = call("ProcessPayment", payment_fn, {
            "action": "charge", "orderId": path.string_at("$.orderId"),
            "customerId": path.string_at("$.customerId"),
            "amount": path.string_at("$.totalAmount")}, "$.payment")
        process_payment.add_catch(mark_payment_failed, result_path="$.error")
        process_payment.next(sfn.Choice(self, "CheckPaymentStatus")
                             .when(sfn.Condition.string_equals("$.payment.status", "SUCCESS"),
                                   reserve)
                             .otherwise(mark_payment_failed))

        log_group = logs.LogGroup(self, "StateMachineLogs", retention=logs.RetentionDays.TWO_WEEKS,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        return sfn.StateMachine(
            self, "OrderSaga", definition_body=sfn.DefinitionBody.from_chainable(process_payment),
            state_machine_type=sfn.StateMachineType.STANDARD,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL))

    def _dashboard(self, functions: list[lambda_.Function], machine: sfn.StateMachine) -> None:
        period = cdk.Duration.minutes(5)
        dashboard = cw.Dashboard(self, "Dashboard")
        dashboard.add_widgets(
            cw.GraphWidget(title="Lambda invocations", width=12,
                           left=[fn.metric_invocations(period=period) for fn in functions]),
            cw.GraphWidget(title="Lambda errors", width=12,
                           left=[fn.metric_errors(period=period) for fn in functions]))
        dashboard.add_widgets(
            cw.GraphWidget(title="Saga executions", width=24, left=[
                machine.metric_started(period=period), machine.metric_succeeded(period=period),
                machine.metric_failed(period=period)]))


def add_to(app: cdk.App) -> cdk.Stack:
    """Add the order saga's stack to ``app`` (infra/app.py's ``APPS``)."""
    return OrderSagaStack(app, STACK_NAME, synthesizer=standalone_synthesizer())
