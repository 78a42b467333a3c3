"""Read a DynamoDB stream from a test: the records of one key (INSERT/MODIFY/REMOVE, old and new
image), waited for with a deadline.

A stream is not a queue: ``GetShardIterator``/``GetRecords`` read it from any position and take
nothing away, so a probe sees every record while the table's Lambda event source mapping still
gets each of them (no reader competes with it). Works on AWS and on LocalStack::

    from harness.streams import StreamProbe
    probe = StreamProbe(localstack.client("dynamodbstreams"), stream_arn)
    [insert] = probe.wait_for({"pk": "a"}, lambda rs: [r for r in rs if r.event_name == "INSERT"])
    assert insert.new_image["status"] == "NEW"

Images and keys are plain Python values (numbers as ``Decimal``), as boto3's resource API gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from boto3.dynamodb.types import TypeDeserializer

from harness.waits import eventually

_deserialize = TypeDeserializer().deserialize


def _plain(image: dict[str, Any] | None) -> dict[str, Any] | None:
    """An image as plain values; ``None`` when absent or empty (an item always has its key, and
    moto gives an INSERT an empty ``OldImage`` where AWS gives none)."""
    return {k: _deserialize(v) for k, v in image.items()} if image else None


@dataclass(frozen=True)
class StreamRecord:
    """One stream record: what happened to which key, the item before and after."""

    event_name: str  # "INSERT" | "MODIFY" | "REMOVE"
    keys: dict[str, Any]
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None
    sequence_number: str
    shard_id: str
    created: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_raw(cls, record: dict[str, Any], shard_id: str) -> "StreamRecord":
        d = record["dynamodb"]
        return cls(record["eventName"], _plain(d.get("Keys")) or {}, _plain(d.get("NewImage")),
                   _plain(d.get("OldImage")), d["SequenceNumber"], shard_id,
                   d.get("ApproximateCreationDateTime"), record)


class StreamProbe:
    """Reads the stream ``stream_arn`` (a table's ``LatestStreamArn``) with ``dynamodbstreams``."""

    def __init__(self, streams_client, stream_arn: str):
        self.client, self.stream_arn = streams_client, stream_arn

    def _shards(self) -> list[str]:
        shards, kwargs = [], {"StreamArn": self.stream_arn}
        while True:
            d = self.client.describe_stream(**kwargs)["StreamDescription"]
            shards += [s["ShardId"] for s in d.get("Shards", [])]
            if not d.get("LastEvaluatedShardId"):
                return shards
            kwargs["ExclusiveStartShardId"] = d["LastEvaluatedShardId"]

    def _read(self, shard_id: str, iterator: str | None) -> Iterable[StreamRecord]:
        while iterator:
            page = self.client.get_records(ShardIterator=iterator, Limit=1000)
            yield from (StreamRecord.from_raw(r, shard_id) for r in page.get("Records", []))
            if not page.get("Records"):
                return  # an open shard always has a next iterator: stop at its end
            iterator = page.get("NextShardIterator")

    def records(self, key: dict[str, Any] | None = None) -> list[StreamRecord]:
        """Every record still in the stream (oldest first per shard), only ``key``'s if given."""
        found = []
        for shard in self._shards():
            iterator = self.client.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard,
                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            found += [r for r in self._read(shard, iterator) if key is None or r.keys == key]
        return found

    def at(self, shard_id: str, sequence_number: str) -> StreamRecord:
        """The record at ``sequence_number`` of ``shard_id`` (e.g. from a failure destination's
        ``DDBStreamBatchInfo``)."""
        iterator = self.client.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=sequence_number)["ShardIterator"]
        for record in self._read(shard_id, iterator):
            return record
        raise LookupError(f"no record {sequence_number} in shard {shard_id} of {self.stream_arn}")

    def wait_for(self, key: dict[str, Any],
                 select: Callable[[list[StreamRecord]], list[StreamRecord]] | None = None,
                 timeout: float | None = None) -> list[StreamRecord]:
        """``key``'s records once ``select(records)`` is non-empty (default: any record); returns
        what ``select`` returned."""
        select = select or (lambda rs: rs)

        def chosen() -> list[StreamRecord]:
            records = self.records(key)
            picked = select(records)
            assert picked, (f"{len(records)} record(s) for {key}: "
                            f"{[r.event_name for r in records]}")
            return picked

        return eventually(chosen, timeout, description=f"stream records of {key}")

    def wait_for_event(self, key: dict[str, Any], event_name: str, count: int = 1,
                       timeout: float | None = None) -> list[StreamRecord]:
        """``key``'s records named ``event_name`` once there are at least ``count`` of them."""
        return self.wait_for(
            key, lambda rs: (lambda m: m if len(m) >= count else [])(
                [r for r in rs if r.event_name == event_name]), timeout)
