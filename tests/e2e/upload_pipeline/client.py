"""A client for the upload pipeline (``infra/upload_pipeline``): send events each way in, read
where they are.

Used by its demo scenario, its e2e tests and the pipeline benchmark. Everything is
found from the stack's outputs, so it works against any deployment of the app.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from harness.localstack.base import LocalStack
from harness.probes import queue_depth
from harness.taps import TopicTap
from harness.waits import Policy, eventually

BUS_SOURCE = "pipeline.manual"
#: how often the pipeline's state is polled while waiting (a table read per attempt)
PIPELINE_POLICY = Policy(timeout=30.0, initial=0.01, cap=0.1)


@dataclass
class ApiResponse:
    status: int
    body: dict[str, Any]

    @property
    def event_id(self) -> str | None:
        return self.body.get("event_id")


class PipelineClient:
    def __init__(self, localstack: LocalStack, outputs: dict[str, str]):
        self.localstack = localstack
        self.outputs = outputs
        self.s3 = localstack.client("s3")
        self.sns = localstack.client("sns")
        self.sqs = localstack.client("sqs")
        self.events = localstack.client("events")
        self.table = localstack.resource("dynamodb").Table(outputs["EventsTableName"])

    # --- ways in ---
    def api_url(self, path: str = "events") -> str:
        return (f"{self.localstack.endpoint_url}/_aws/execute-api/{self.outputs['ApiId']}/"
                f"{self.outputs['ApiStage']}/{path}")

    def upload(self, key: str, body: bytes = b"hello") -> str:
        """Put an object in the uploads bucket; return its key (its event id comes from S3)."""
        self.s3.put_object(Bucket=self.outputs["BucketName"], Key=key, Body=body)
        return key

    def post_api(self, body: Any, idempotency_key: str | None = None,
                 raw: bytes | None = None) -> ApiResponse:
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        request = urllib.request.Request(self.api_url(), data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return ApiResponse(resp.status, json.loads(resp.read() or b"{}"))
        except urllib.error.HTTPError as err:
            payload = err.read()
            try:
                parsed = json.loads(payload or b"{}")
            except ValueError:
                parsed = {"raw": payload.decode(errors="replace")}
            return ApiResponse(err.code, parsed)

    def put_bus_event(self, detail: dict, detail_type: str = "manual") -> str:
        """Put an event on the bus; return the pipeline's event id for it."""
        resp = self.events.put_events(Entries=[{
            "Source": BUS_SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail),
            "EventBusName": self.outputs["EventBusName"]}])
        entry = resp["Entries"][0]
        if resp.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents failed: {entry}")
        return f"bus-{detail.get('event_id') or entry['EventId']}"

    def publish_raw(self, message: str) -> str:
        """Publish any message to the pipeline topic (e.g. poison); return SNS's message id."""
        return self.sns.publish(TopicArn=self.outputs["TopicArn"], Message=message)["MessageId"]

    # --- where things are ---
    def item(self, event_id: str) -> dict | None:
        return self.table.get_item(Key={"event_id": event_id}, ConsistentRead=True).get("Item")

    def _scan_pages(self, condition=None, **kwargs):
        kwargs["ConsistentRead"] = True
        if condition is not None:
            kwargs["FilterExpression"] = condition
        while True:
            page = self.table.scan(**kwargs)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scan(self, condition=None) -> list[dict]:
        """Every item of the events table (matching a boto3 ``Attr`` condition), all pages."""
        return [item for page in self._scan_pages(condition) for item in page["Items"]]

    def count(self, condition=None) -> int:
        """How many items match: a scan that returns only counts (cheap to poll: no items are
        serialized and sent)."""
        return sum(page["Count"] for page in self._scan_pages(condition, Select="COUNT"))

    def items_for_key(self, object_key: str) -> list[dict]:
        from boto3.dynamodb.conditions import Attr

        return self.scan(Attr("object_key").eq(object_key))

    def items_containing(self, text: str) -> list[dict]:
        """Items whose payload contains ``text`` (a marker the test put in its events)."""
        from boto3.dynamodb.conditions import Attr

        return self.scan(Attr("payload").contains(text))

    def wait_for_status(self, event_id: str, status: str = "CONFIRMED",
                        timeout: float | None = None) -> dict:
        def reached() -> dict:
            item = self.item(event_id)
            assert item is not None, f"no item for {event_id} yet"
            assert item["status"] == status, f"{event_id} is {item['status']}, not {status}"
            return item

        return eventually(reached, timeout, policy=PIPELINE_POLICY,
                          description=f"event {event_id} reaches {status}",
                          diagnose=lambda: self.trace(event_id))

    def wait_for_upload(self, object_key: str, status: str = "CONFIRMED",
                        timeout: float | None = None) -> dict:
        def reached() -> dict:
            items = self.items_for_key(object_key)
            assert items, f"no item for upload {object_key!r} yet"
            assert len(items) == 1, f"{len(items)} items for upload {object_key!r}"
            assert items[0]["status"] == status, f"upload is {items[0]['status']}"
            return items[0]

        return eventually(reached, timeout, policy=PIPELINE_POLICY,
                          description=f"upload {object_key!r} reaches {status}",
                          diagnose=lambda: self.trace(object_key))

    def trace(self, needle: str) -> str:
        """Where the event (an id, or any marker in it) is now, stage by stage."""
        from tests.e2e.upload_pipeline.trace import pipeline_tracer

        return pipeline_tracer(self.localstack, self.outputs).trace(needle).render()

    def queue_depth(self, queue_output: str) -> dict[str, int]:
        return queue_depth(self.sqs, self.outputs[queue_output])


def _event_id_is(event_id: str) -> Callable[[str], bool]:
    def matches(body: str) -> bool:
        try:
            return json.loads(body).get("event_id") == event_id
        except (ValueError, AttributeError):
            return False

    return matches


class NotificationInbox(TopicTap):
    """The notifications topic, tapped: the confirmations published for each event id."""

    def received(self, event_id: str) -> list[dict]:
        return [json.loads(b) for b in self.matching(_event_id_is(event_id))]

    def wait_for(self, event_id: str, timeout: float | None = None) -> list[dict]:  # type: ignore[override]
        bodies = super().wait_for(_event_id_is(event_id), timeout,
                                  description=f"notification for {event_id}")
        return [json.loads(b) for b in bodies]
