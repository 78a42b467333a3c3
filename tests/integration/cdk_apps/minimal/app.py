"""A minimal CDK app for the deployer's own tests: a bucket with a file asset, a queue with a DLQ."""

import os

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.aws_s3_assets import Asset

app = cdk.App()
stack = cdk.Stack(app, "LshMinimal")
dlq = sqs.Queue(stack, "Dlq")
queue = sqs.Queue(stack, "Queue", dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=2))
if os.environ.get("LSH_TEST_EXTRA_QUEUE"):  # the deployer's update test adds a resource
    extra = sqs.Queue(stack, "Extra")
    cdk.CfnOutput(stack, "ExtraQueueUrl", value=extra.queue_url)
bucket = s3.Bucket(stack, "Bucket")
asset = Asset(stack, "Readme", path=os.path.join(os.path.dirname(__file__), "asset"))
cdk.CfnOutput(stack, "QueueUrl", value=queue.queue_url)
cdk.CfnOutput(stack, "BucketName", value=bucket.bucket_name)
cdk.CfnOutput(stack, "AssetKey", value=asset.s3_object_key)
cdk.CfnOutput(stack, "AssetBucket", value=asset.s3_bucket_name)
app.synth()
