"""The order-routing app's stages for :class:`harness.trace.Tracer`: an event (any id or text of
it) followed from the bus, through its rule and target, into the processors, tables, queues and
the workflow. Every stage is a generic probe; only the list is this app's."""

from __future__ import annotations

from harness.localstack import LocalStack
from harness.trace import Tracer
from harness.trace.eventbridge import bus_stages
from harness.trace.stages import DeadLetters, FunctionLogs, QueueDepth, TableItem
from harness.trace.stepfunctions_stages import ExecutionStarted, StateReached


def routing_tracer(localstack: LocalStack, outputs: dict[str, str]) -> Tracer:
    o = outputs
    return Tracer(localstack, [
        *bus_stages(o["EventBusName"], "bus"),
        FunctionLogs("order processor", o["OrderProcessorFunctionName"]),
        FunctionLogs("inventory processor", o["InventoryProcessorFunctionName"]),
        FunctionLogs("notification processor", o["NotificationProcessorFunctionName"]),
        DeadLetters("failed invocations", o["AsyncFailureQueueUrl"]),
        TableItem("orders table", o["OrdersTableName"]),
        TableItem("inventory table", o["InventoryTableName"]),
        QueueDepth("inventory queue", o["InventoryQueueUrl"]),
        DeadLetters("inventory DLQ", o["InventoryDlqUrl"]),
        QueueDepth("order queue", o["OrderQueueUrl"]),
        DeadLetters("order DLQ", o["OrderDlqUrl"]),
        ExecutionStarted("workflow started", o["StateMachineArn"]),
        StateReached("workflow state", o["StateMachineArn"]),
    ])
