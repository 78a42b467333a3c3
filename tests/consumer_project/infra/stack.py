"""The consumer's stack: one :class:`~infra.constructs.QueueToTable` and its outputs."""

import aws_cdk as cdk
from constructs import Construct

from infra.constructs import QueueToTable


class RecordsStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        flow = QueueToTable(self, "Records")
        cdk.CfnOutput(self, "QueueUrl", value=flow.queue.queue_url)
        cdk.CfnOutput(self, "TableName", value=flow.table.table_name)
