"""Event sourcing for bank accounts (seed 004): commands in, events stored, projected, replayable.

    command_handler ──(conditional append)──→ event store (AggregateId, Version) ──stream──┐
          │                                                                               ▼
          └──(PutEvents)──→ ledger bus ──→ archive            projection_handler ──→ read model
                              │  replay ─────────────────────────↗ (rule: replay-name exists)
    query_handler: reconstructState (fold of the event store) | getReadModel (the read model)

The stream mapping bisects a failing batch, retries it a bounded number of times, then sends it
to the projection DLQ (its on-failure destination) and moves on. Replayed events reach the same
projection through a rule that matches only replays, which is how the read model is rebuilt.
Alarms: event store write throttles, each function's errors, failed invocations of the replay
rule. Plain CloudFormation, no custom resources; each role holds only what its function uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct, Node

from infra.common.stacks import add_outputs, standalone_synthesizer, tuning_from_context
from infra.common.layer import ARCHITECTURE, RUNTIME, dependency_layer_code, function_code

STACK_NAME = "LshLedger"
#: the ``source`` of every event the command handler publishes
EVENT_SOURCE = "ledger.accounts"
OUTPUT_NAMES = ("CommandHandlerFunction", "QueryHandlerFunction", "ProjectionHandlerFunction",
                "EventStoreTable", "ReadModelTable", "EventBusName", "EventArchive",
                "ProjectionDlqUrl")


@dataclass(frozen=True)
class LedgerTuning:
    """Knobs read from CDK context; the defaults are the seed's (and suit AWS).

    ``retention_days``: how long the archive keeps events. ``projection_retries``: how often the
    stream mapping retries a failing batch (halving it each time) before it goes to the DLQ.
    ``read_capacity``/``write_capacity``: the tables' provisioned capacity.
    """

    retention_days: int = 365
    projection_batch_size: int = 10
    projection_retries: int = 3
    read_capacity: int = 10
    write_capacity: int = 10
    function_timeout_seconds: int = 30

    @classmethod
    def from_context(cls, node: Node) -> "LedgerTuning":
        return tuning_from_context(cls, node)


class LedgerStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, *,
                 tuning: LedgerTuning | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        tuning = tuning or LedgerTuning.from_context(self.node)
        destroy = cdk.RemovalPolicy.DESTROY

        # --- storage ---
        event_store = ddb.Table(
            self, "EventStore", removal_policy=destroy,
            partition_key=ddb.Attribute(name="AggregateId", type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name="Version", type=ddb.AttributeType.NUMBER),
            billing_mode=ddb.BillingMode.PROVISIONED, read_capacity=tuning.read_capacity,
            write_capacity=tuning.write_capacity, stream=ddb.StreamViewType.NEW_IMAGE,
            point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True))
        read_model = ddb.Table(
            self, "ReadModel", removal_policy=destroy,
            partition_key=ddb.Attribute(name="AggregateId", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PROVISIONED, read_capacity=tuning.read_capacity,
            write_capacity=tuning.write_capacity)
        projection_dlq = sqs.Queue(self, "ProjectionDlq", enforce_ssl=True,
                                   retention_period=cdk.Duration.days(14), removal_policy=destroy)

        # --- the bus and its archive ---
        bus = events.EventBus(self, "Bus")
        archive = bus.archive("EventArchive", description="Every ledger event, for replays",
                              event_pattern=events.EventPattern(source=[EVENT_SOURCE]),
                              retention=cdk.Duration.days(tuning.retention_days))

        # --- functions ---
        layer = lambda_.LayerVersion(
            self, "Dependencies", code=dependency_layer_code(), removal_policy=destroy,
            compatible_runtimes=[RUNTIME], compatible_architectures=[ARCHITECTURE],
            description="The functions' pinned dependencies (functions/requirements.txt)")
        code = function_code("ledger")
        tables = {"EVENT_STORE_TABLE": event_store.table_name,
                  "READ_MODEL_TABLE": read_model.table_name}

        def function(name: str, module: str, env: dict[str, str]) -> lambda_.Function:
            fn = lambda_.Function(
                self, name, runtime=RUNTIME, architecture=ARCHITECTURE, code=code,
                handler=f"functions.ledger.{module}.handler", layers=[layer], memory_size=256,
                timeout=cdk.Duration.seconds(tuning.function_timeout_seconds),
                environment={"POWERTOOLS_SERVICE_NAME": module, "POWERTOOLS_LOG_LEVEL": "INFO",
                             **tables, **env})
            logs.LogGroup(self, f"{name}Logs", log_group_name=f"/aws/lambda/{fn.function_name}",
                          retention=logs.RetentionDays.ONE_WEEK, removal_policy=destroy)
            return fn

        def allow(fn: lambda_.Function, table: ddb.Table, *actions: str) -> None:
            # table.grant() would add the indexes too; these calls need the table only
            iam.Grant.add_to_principal(grantee=fn, actions=[f"dynamodb:{a}" for a in actions],
                                       resource_arns=[table.table_arn])

        command = function("CommandHandler", "command_handler",
                           {"EVENT_BUS_NAME": bus.event_bus_name, "EVENT_SOURCE": EVENT_SOURCE})
        allow(command, event_store, "Query", "PutItem")
        bus.grant_put_events_to(command)

        projection = function("ProjectionHandler", "projection_handler", {})
        allow(projection, event_store, "Query")
        allow(projection, read_model, "GetItem", "PutItem")
        projection.add_event_source(sources.DynamoEventSource(
            event_store, starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=tuning.projection_batch_size, bisect_batch_on_error=True,
            retry_attempts=tuning.projection_retries,
            on_failure=sources.SqsDlq(projection_dlq)))

        query = function("QueryHandler", "query_handler", {})
        allow(query, event_store, "Query")
        allow(query, read_model, "GetItem")

        # --- rebuild: replayed events (and only those) → the projection ---
        rebuild = events.Rule(self, "RebuildFromReplay", event_bus=bus,
                              description="Events replayed from the archive rebuild the read model",
                              event_pattern=events.EventPattern(source=[EVENT_SOURCE]),
                              targets=[targets.LambdaFunction(
                                  projection, dead_letter_queue=projection_dlq,
                                  retry_attempts=2)])
        # EventPattern has no field for it: replayed events carry "replay-name"
        rebuild.node.default_child.add_property_override(
            "EventPattern.replay-name", [{"exists": True}])

        # --- alarms (seed: write throttles, function errors, failed EventBridge invocations) ---
        def alarm(name: str, metric: cloudwatch.IMetric, description: str) -> None:
            cloudwatch.Alarm(self, name, metric=metric, threshold=1, evaluation_periods=1,
                             alarm_description=description,
                             comparison_operator=cloudwatch.ComparisonOperator
                             .GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                             treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)

        period = cdk.Duration.minutes(5)
        alarm("EventStoreWriteThrottles",
              event_store.metric("WriteThrottleEvents", statistic="Sum", period=period),
              "Writes to the event store are throttled")
        for name, fn in (("CommandHandler", command), ("ProjectionHandler", projection),
                         ("QueryHandler", query)):
            alarm(f"{name}Errors", fn.metric_errors(statistic="Sum", period=period),
                  f"The {name} function fails")
        alarm("RebuildFailedInvocations",
              cloudwatch.Metric(namespace="AWS/Events", metric_name="FailedInvocations",
                                dimensions_map={"RuleName": rebuild.rule_name},
                                statistic="Sum", period=period),
              "EventBridge could not deliver replayed events to the projection")
        alarm("ProjectionDlqNotEmpty",
              projection_dlq.metric_approximate_number_of_messages_visible(period=period),
              "Events the projection gave up on are waiting in the DLQ")

        add_outputs(self, {
            "CommandHandlerFunction": command.function_name,
            "QueryHandlerFunction": query.function_name,
            "ProjectionHandlerFunction": projection.function_name,
            "EventStoreTable": event_store.table_name, "ReadModelTable": read_model.table_name,
            "EventBusName": bus.event_bus_name, "EventArchive": archive.archive_name,
            "ProjectionDlqUrl": projection_dlq.queue_url,
            # beyond the seed's outputs: handy for tests and debugging
            "EventStoreStreamArn": event_store.table_stream_arn,
            "RebuildRuleName": rebuild.rule_name, "EventSource": EVENT_SOURCE,
        })


def add_to(app: cdk.App, stack_name: str = STACK_NAME) -> LedgerStack:
    """Add the ledger's stack to a CDK app (see :mod:`infra.app`)."""
    return LedgerStack(
        app, stack_name,
        synthesizer=standalone_synthesizer(),
        description="Event-sourced bank accounts: commands -> DynamoDB event store -> stream -> "
                    "read model; EventBridge bus with archive and replay")
