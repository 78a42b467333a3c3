"""Conditional writes to our moto-backed DynamoDB are atomic, and stream iterators expire
(``lsh_localstack_plugins.moto_dynamodb_locks`` and ``.moto_stream_iterators``).

Without the lock, moto checks a condition and writes in two steps that concurrent requests
interleave: several ``attribute_not_exists`` puts of one key succeed in one round, and
conditioned ``version + 1`` updates get lost.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import unique

pytestmark = pytest.mark.integration

THREADS = 50
ROUNDS = 5
#: extra attributes in each written item: moto builds an item (re-measuring its size for every
#: attribute) between reading the current item and storing the new one, so a bigger item holds
#: that check-then-write window open for a few ms and lets an unlocked race show every run
PADDING = {f"pad{i:03}": {"S": "x" * 20} for i in range(150)}
#: the same for an update: part of the padding is rewritten before ``version`` is
REWRITE_PADDING = "SET " + ", ".join(f"{name} = :pad" for name in list(PADDING)[:50])


def concurrent_client(localstack):
    """A DynamoDB client for ``THREADS`` threads at once that never retries (a retried write
    would blur which request won)."""
    return localstack.client("dynamodb", config=Config(
        max_pool_connections=THREADS, retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=5, read_timeout=65))


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` on one thread each, released together; each result, or the raised
    ``ClientError``'s code."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=60)
        try:
            return call()
        except ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def make_table(localstack, stream: bool = False) -> str:
    ddb = localstack.client("dynamodb")
    name = unique("lsh-atomic")
    extra = ({"StreamSpecification": {"StreamEnabled": True,
                                      "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {})
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     **extra)
    return name


@pytest.fixture
def table(localstack):
    name = make_table(localstack)
    yield name
    localstack.client("dynamodb").delete_table(TableName=name)


@pytest.fixture
def streamed_table(localstack):
    name = make_table(localstack, stream=True)
    yield name
    localstack.client("dynamodb").delete_table(TableName=name)


def test_one_of_many_concurrent_conditional_puts_of_a_key_wins(localstack, table):
    ddb = concurrent_client(localstack)
    for round_ in range(ROUNDS):
        key = f"k-{round_}"

        def put(writer: int):
            return lambda: ddb.put_item(
                TableName=table, Item={"pk": {"S": key}, "writer": {"N": str(writer)}, **PADDING},
                ConditionExpression="attribute_not_exists(pk)") and "ok"

        outcomes = all_at_once([put(w) for w in range(THREADS)])
        winners = [w for w, o in enumerate(outcomes) if o == "ok"]
        assert len(winners) == 1, f"round {round_}: {len(winners)} puts of {key} succeeded"
        assert outcomes.count("ConditionalCheckFailedException") == THREADS - 1, outcomes
        stored = ddb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)
        assert stored["Item"]["writer"] == {"N": str(winners[0])}


def test_one_of_many_concurrent_conditional_transactions_wins(localstack, table):
    ddb = concurrent_client(localstack)
    for round_ in range(ROUNDS):
        key = f"tx-{round_}"

        def put(writer: int):
            return lambda: ddb.transact_write_items(TransactItems=[{"Put": {
                "TableName": table,
                "Item": {"pk": {"S": key}, "writer": {"N": str(writer)}, **PADDING},
                "ConditionExpression": "attribute_not_exists(pk)"}}]) and "ok"

        outcomes = all_at_once([put(w) for w in range(THREADS)])
        assert outcomes.count("ok") == 1, f"round {round_}: {outcomes.count('ok')} succeeded"
        assert outcomes.count("TransactionCanceledException") == THREADS - 1, outcomes


def test_a_cancelled_transaction_undoes_no_other_write(localstack, table):
    """moto rolls a cancelled transaction back by restoring a snapshot of all tables: without
    the lock, puts that other threads made meanwhile vanish."""
    ddb = concurrent_client(localstack)
    ddb.put_item(TableName=table, Item={"pk": {"S": "exists"}})
    cancel = lambda: ddb.transact_write_items(TransactItems=[  # noqa: E731
        {"Put": {"TableName": table, "Item": {"pk": {"S": "never"}, **PADDING}}},
        {"Put": {"TableName": table, "Item": {"pk": {"S": "exists"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}}])
    writers = THREADS // 2

    def put(i: int):
        return lambda: ddb.put_item(TableName=table, Item={"pk": {"S": f"p-{i}"}}) and "ok"

    outcomes = all_at_once([cancel] * (THREADS - writers) + [put(i) for i in range(writers)])
    assert outcomes.count("TransactionCanceledException") == THREADS - writers, outcomes
    assert outcomes.count("ok") == writers, outcomes
    items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    keys = {item["pk"]["S"] for item in items}
    assert keys == {"exists"} | {f"p-{i}" for i in range(writers)}


def test_a_cancelled_transaction_leaves_the_stream_and_its_iterators_alone(localstack,
                                                                          streamed_table):
    """moto undid a cancelled transaction by swapping in copies of the tables (and their stream
    shards): an iterator handed out before then read the cancelled put's record and never
    a later one."""
    ddb, streams = localstack.client("dynamodb"), localstack.client("dynamodbstreams")
    table = streamed_table
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="LATEST")["ShardIterator"]
    ddb.put_item(TableName=table, Item={"pk": {"S": "exists"}})
    page = streams.get_records(ShardIterator=iterator)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["exists"]
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "never"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "exists"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}}])
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    ddb.put_item(TableName=table, Item={"pk": {"S": "after"}})

    page = streams.get_records(ShardIterator=page["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["after"]
    records = stream_records(localstack, table)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["exists", "after"]
    assert len({r["dynamodb"]["SequenceNumber"] for r in records}) == 2
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "never"}})


def stream_records(localstack, table: str) -> list[dict]:
    ddb, streams = localstack.client("dynamodb"), localstack.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records: list[dict] = []
    while True:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        records += page["Records"]
        if not page["Records"]:
            return records
        iterator = page["NextShardIterator"]


def test_concurrent_conditional_counter_updates_lose_nothing(localstack, streamed_table):
    """Each thread bumps ``version`` with ``version = :old`` as condition, re-reading on a
    conditional failure: the final version is the number of successful updates, and the stream
    holds one MODIFY per success, each one step up, with distinct sequence numbers."""
    ddb = concurrent_client(localstack)
    table, key = streamed_table, {"pk": {"S": "counter"}}
    ddb.put_item(TableName=table, Item={**key, "version": {"N": "0"}, **PADDING})
    bumps_each = 2

    def bump_n_times():
        done = conflicts = 0
        while done < bumps_each:
            old = ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["version"]
            try:
                ddb.update_item(TableName=table, Key=key, UpdateExpression=REWRITE_PADDING
                                + ", version = :new", ConditionExpression="version = :old",
                                ExpressionAttributeValues={
                                    ":old": old, ":new": {"N": str(int(old["N"]) + 1)},
                                    ":pad": {"S": "y" * 20}})
                done += 1
            except ClientError as e:
                if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                conflicts += 1
        return conflicts

    threads = 10
    conflicts = all_at_once([bump_n_times] * threads)
    assert all(isinstance(c, int) for c in conflicts), conflicts
    successes = threads * bumps_each
    final = ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["version"]
    assert final == {"N": str(successes)}, f"{successes} updates succeeded, version is {final}"

    modifies = [r for r in stream_records(localstack, table) if r["eventName"] == "MODIFY"]
    assert len(modifies) == successes
    steps = [(int(r["dynamodb"]["OldImage"]["version"]["N"]),
              int(r["dynamodb"]["NewImage"]["version"]["N"])) for r in modifies]
    assert steps == [(v, v + 1) for v in range(successes)]
    sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in modifies]
    assert len(set(sequence_numbers)) == successes


def test_shard_iterators_chain_and_an_unknown_one_is_expired(localstack, streamed_table):
    """200 chained GetRecords (each hands out a new iterator) keep working, the newest iterator
    sees a new record, and an iterator the stream no longer knows is ``ExpiredIteratorException``
    (moto: an internal error) — the answer LocalStack's stream poller recovers from."""
    ddb, streams = localstack.client("dynamodb"), localstack.client("dynamodbstreams")
    table = streamed_table
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    first = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                       ShardIteratorType="LATEST")["ShardIterator"]
    iterator = first
    for _ in range(200):
        page = streams.get_records(ShardIterator=iterator)
        assert page["Records"] == []
        iterator = page["NextShardIterator"]
    ddb.put_item(TableName=table, Item={"pk": {"S": "after"}})
    [record] = streams.get_records(ShardIterator=iterator)["Records"]
    assert record["dynamodb"]["Keys"] == {"pk": {"S": "after"}}
    assert len(streams.get_records(ShardIterator=first)["Records"]) == 1  # within 15 minutes

    unknown = first.rsplit("|", 1)[0] + "|" + "A" * 632
    with pytest.raises(ClientError) as failure:
        streams.get_records(ShardIterator=unknown)
    assert failure.value.response["Error"]["Code"] == "ExpiredIteratorException"
