"""A user's CDK app, not part of the harness: SQS queue -> Lambda -> DynamoDB table."""

import aws_cdk as cdk

from infra.stack import RecordsStack

app = cdk.App()
RecordsStack(app, "ConsumerRecords")
app.synth()
