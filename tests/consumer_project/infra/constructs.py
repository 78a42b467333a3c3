"""A reusable construct of the consumer's: a queue whose messages a function writes to a table."""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

HANDLERS = Path(__file__).resolve().parents[1] / "handlers"


class QueueToTable(Construct):
    """Queue (with a dead-letter queue) -> Lambda ``record_writer`` -> DynamoDB table."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self, "Table", partition_key=dynamodb.Attribute(name="id",
                                                            type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=cdk.RemovalPolicy.DESTROY)
        self.dead_letters = sqs.Queue(self, "DeadLetters")
        self.queue = sqs.Queue(
            self, "Queue", visibility_timeout=cdk.Duration.seconds(30),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=2, queue=self.dead_letters))
        self.writer = lambda_.Function(
            self, "Writer", runtime=lambda_.Runtime.PYTHON_3_11,
            handler="record_writer.handler", code=lambda_.Code.from_asset(str(HANDLERS)),
            timeout=cdk.Duration.seconds(10), environment={"TABLE_NAME": self.table.table_name})
        self.writer.add_event_source(sources.SqsEventSource(self.queue, batch_size=10))
        self.table.grant_write_data(self.writer)
