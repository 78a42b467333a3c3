"""harness.streams.StreamProbe against a real table's stream (moto behind our LocalStack plugin):
it sees INSERT/MODIFY/REMOVE with both images for one key, reading takes nothing away, and a
record can be fetched again by its sequence number."""

from __future__ import annotations

from decimal import Decimal

import pytest

from harness.streams import StreamProbe
from tests.integration.conftest import unique


@pytest.fixture
def streamed_table(localstack):
    ddb = localstack.client("dynamodb")
    name = unique("lsh-stream")
    arn = ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    yield localstack.resource("dynamodb").Table(name), arn
    ddb.delete_table(TableName=name)


def test_probe_sees_each_change_of_a_key_with_its_images(localstack, streamed_table):
    table, arn = streamed_table
    probe = StreamProbe(localstack.client("dynamodbstreams"), arn)
    table.put_item(Item={"pk": "a", "n": 1})
    table.put_item(Item={"pk": "other", "n": 9})
    table.update_item(Key={"pk": "a"}, UpdateExpression="SET n = :n",
                      ExpressionAttributeValues={":n": 2})
    table.delete_item(Key={"pk": "a"})

    [removed] = probe.wait_for_event({"pk": "a"}, "REMOVE", timeout=10)
    records = probe.records({"pk": "a"})
    assert [r.event_name for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[0].new_image == {"pk": "a", "n": Decimal(1)} and records[0].old_image is None
    assert records[1].old_image["n"] == 1 and records[1].new_image["n"] == 2
    assert removed.old_image == {"pk": "a", "n": Decimal(2)} and removed.new_image is None
    # reading consumed nothing: a second read sees the same, and the whole stream has 4
    assert probe.records({"pk": "a"}) == records
    assert len(probe.records()) == 4
    again = probe.at(records[1].shard_id, records[1].sequence_number)
    assert again == records[1]


def test_wait_for_names_what_it_saw_on_timeout(localstack, streamed_table):
    table, arn = streamed_table
    probe = StreamProbe(localstack.client("dynamodbstreams"), arn)
    table.put_item(Item={"pk": "b"})
    with pytest.raises(AssertionError, match=r"1 record\(s\) for \{'pk': 'b'\}: \['INSERT'\]"):
        probe.wait_for_event({"pk": "b"}, "REMOVE", timeout=1)
