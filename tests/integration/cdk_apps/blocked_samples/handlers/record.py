"""Record each uploaded object (from S3 notifications on an SQS queue) as a table item."""

import json
import os

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE"])


def handler(event, context):
    for message in event["Records"]:
        body = json.loads(message["body"])
        for record in body.get("Records", []):  # s3:TestEvent has none
            key = record["s3"]["object"]["key"]
            TABLE.put_item(Item={"key": key, "owner": os.environ["OWNER"],
                                 "size": record["s3"]["object"].get("size", 0)})
