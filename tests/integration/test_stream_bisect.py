"""``BisectBatchOnFunctionError`` on a DynamoDB stream mapping (``lsh_localstack_plugins.
stream_bisect``): a batch holding one poison record is split until the poison is alone; it alone
reaches the on-failure destination, every other record of the batch is processed."""

from __future__ import annotations

import json

from harness.probes import peek_messages
from harness.streams import StreamProbe
from harness.waits import eventually
from tests.integration.conftest import unique

HANDLER = """
import os, boto3
table = boto3.resource("dynamodb").Table(os.environ["DONE_TABLE"])
def handler(event, context):
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
    if "poison" in keys:
        raise ValueError("poison in batch " + ",".join(keys))
    for k in keys:
        table.put_item(Item={"pk": k})
"""


def test_a_poison_record_is_bisected_out_of_its_batch(localstack, create_function,
                                                        create_table, create_queue):
    ddb, lam = localstack.client("dynamodb"), localstack.client("lambda")
    source = unique("lsh-bisect")
    stream_arn = ddb.create_table(
        TableName=source, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    done = create_table("lsh-done")
    dlq_url, dlq_arn = create_queue("lsh-bisect-dlq")
    function = create_function(HANDLER, Environment={"Variables": {"DONE_TABLE": done}})
    keys = ["a", "b", "poison", "c", "d"]
    for key in keys:  # all on the stream before the mapping starts: one batch
        ddb.put_item(TableName=source, Item={"pk": {"S": key}})
    mapping = lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON",
        BatchSize=10, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}})["UUID"]
    try:
        letters = eventually(lambda: peek_messages(localstack.client("sqs"), dlq_url), timeout=60,
                             description="the poison record in the DLQ")
        processed = eventually(
            lambda: (lambda got: got if len(got) == 4 else None)(
                sorted(i["pk"]["S"] for i in ddb.scan(TableName=done)["Items"])),
            timeout=30, description="the four good records processed")
        assert processed == ["a", "b", "c", "d"]
        [letter] = [json.loads(m["Body"]) for m in letters]
        info = letter["DDBStreamBatchInfo"]
        assert info["batchSize"] == 1
        assert letter["requestContext"]["condition"] == "RetryAttemptsExhausted"
        probe = StreamProbe(localstack.client("dynamodbstreams"), stream_arn)
        assert probe.at(info["shardId"], info["startSequenceNumber"]).keys == {"pk": "poison"}
    finally:
        lam.delete_event_source_mapping(UUID=mapping)
        ddb.delete_table(TableName=source)
