"""SQS -> DynamoDB: each message body is a JSON object with an ``id``; it is stored as is."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    for record in event["Records"]:
        item = json.loads(record["body"])
        item["received_at"] = record["attributes"]["SentTimestamp"]
        table.put_item(Item=item)
    return {"written": len(event["Records"])}
