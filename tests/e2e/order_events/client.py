"""The order-events app as its tests and demo drive it: publish through the publisher Lambda,
put straight on the bus, read the table and its index, peek at the dead-letter queue."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from boto3.dynamodb.conditions import Key

from harness.localstack.base import LocalStack
from harness.probes import peek_messages
from harness.waits import eventually

SOURCE = "custom.myapp"


def sample_order(order_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """The seed's payload, with a fresh ``orderId`` unless one is given."""
    return {"orderId": order_id or f"TEST-{uuid.uuid4().hex[:8]}", "customer": "John Doe",
            "items": [{"id": "product-123", "quantity": 2}], **extra}


def iso(moment: datetime) -> str:
    """As the processor writes ``timestamp`` (UTC, milliseconds, ``Z``)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Published:
    """What the publisher answered: ``event_id`` on success, else the function's error."""

    event_id: str | None
    error_type: str | None = None
    error_message: str | None = None


class OrderEvents:
    def __init__(self, localstack: LocalStack, outputs: dict[str, str]):
        self.outputs = outputs
        self.lambda_ = localstack.client("lambda")
        self.events = localstack.client("events")
        self.sqs = localstack.client("sqs")
        self.table = localstack.resource("dynamodb").Table(outputs["EventsTableName"])
        self.index = outputs["EventsByTypeIndexName"]
        self.bus = outputs["OrderEventBusName"]

    def publish(self, payload: Any) -> Published:
        """Invoke the publisher (synchronously) with ``payload``."""
        response = self.lambda_.invoke(FunctionName=self.outputs["EventPublisherFunctionName"],
                                       Payload=json.dumps(payload))
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            return Published(None, body.get("errorType"), body.get("errorMessage"))
        return Published(body["eventId"])

    def put_on_bus(self, detail: dict, detail_type: str = "order_placed",
                   source: str = SOURCE) -> str:
        """Put an event on the app's bus directly (not through the publisher); its id."""
        [entry] = self.events.put_events(Entries=[{
            "EventBusName": self.bus, "Source": source, "DetailType": detail_type,
            "Detail": json.dumps(detail)}])["Entries"]
        assert "EventId" in entry, entry
        return entry["EventId"]

    def stored(self, order_id: str) -> dict | None:
        return self.table.get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item")

    def wait_stored(self, order_id: str, timeout: float = 20.0) -> dict:
        def item() -> dict:
            found = self.stored(order_id)
            assert found is not None, f"no item for order {order_id}"
            return found

        return eventually(item, timeout, description=f"order {order_id} stored")

    def by_type(self, event_type: str, start: datetime, end: datetime) -> list[dict]:
        """Every stored event of ``event_type`` with ``start <= timestamp <= end`` (the GSI)."""
        found, kwargs = [], {}
        condition = (Key("event_type").eq(event_type)
                     & Key("timestamp").between(iso(start), iso(end)))
        while True:
            page = self.table.query(IndexName=self.index, KeyConditionExpression=condition,
                                    **kwargs)
            found += page["Items"]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def dead_letters(self) -> list[dict]:
        """The processor's dead-letter queue, peeked (nothing taken)."""
        return peek_messages(self.sqs, self.outputs["ProcessorDlqUrl"])


def window(before: float = 2.0, after: float = 60.0) -> tuple[datetime, datetime]:
    """A time range around now (event times have whole seconds, so start a little earlier)."""
    now = datetime.now(timezone.utc)
    return now - timedelta(seconds=before), now + timedelta(seconds=after)
