"""A small client for the deployed ledger: send commands, run both queries, read the tables."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from harness.waits import eventually


class LedgerClient:
    def __init__(self, localstack, outputs: dict[str, str]):
        self.outputs = outputs
        self.lam = localstack.client("lambda")
        self.ddb = localstack.resource("dynamodb")
        self.events = localstack.client("events")
        self.sqs = localstack.client("sqs")
        self.event_store = self.ddb.Table(outputs["EventStoreTable"])
        self.read_model = self.ddb.Table(outputs["ReadModelTable"])

    def _invoke(self, function: str, payload: dict) -> dict:
        response = self.lam.invoke(FunctionName=self.outputs[function],
                                   Payload=json.dumps(payload))
        body = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, f"{function} failed: {body}"
        return body

    def send(self, aggregate_id: str, event_type: str, data: dict[str, Any],
             expected_version: int | None = None) -> dict:
        """The command handler's answer to the seed-shaped command."""
        command: dict[str, Any] = {"aggregateId": aggregate_id, "eventType": event_type,
                                   "eventData": data}
        if expected_version is not None:
            command["expectedVersion"] = expected_version
        return self._invoke("CommandHandlerFunction", command)

    def create(self, aggregate_id: str, customer: str = "customer-456", **kw) -> dict:
        return self.send(aggregate_id, "AccountCreated",
                         {"accountId": aggregate_id, "customerId": customer,
                          "accountType": "checking"}, **kw)

    def transact(self, aggregate_id: str, kind: str, amount: Any, tx: str, **kw) -> dict:
        return self.send(aggregate_id, "TransactionProcessed",
                         {"transactionId": tx, "amount": amount, "type": kind}, **kw)

    def query(self, query_type: str, aggregate_id: str | None = None) -> dict:
        payload = {"queryType": query_type}
        if aggregate_id is not None:
            payload["aggregateId"] = aggregate_id
        return self._invoke("QueryHandlerFunction", payload)

    def stored_events(self, aggregate_id: str) -> list[dict]:
        items, kwargs = [], {"KeyConditionExpression": "AggregateId = :a",
                             "ExpressionAttributeValues": {":a": aggregate_id},
                             "ConsistentRead": True}
        while True:
            page = self.event_store.query(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def view(self, aggregate_id: str) -> dict | None:
        return self.read_model.get_item(Key={"AggregateId": aggregate_id},
                                        ConsistentRead=True).get("Item")

    def wait_projected(self, aggregate_id: str, version: int, timeout: float = 30) -> dict:
        """The read model's item once it is at ``version``."""
        def at_version() -> dict:
            item = self.view(aggregate_id)
            assert item is not None and int(item["version"]) >= version, \
                f"read model of {aggregate_id}: {item}"
            return item

        return eventually(at_version, timeout,
                          description=f"read model of {aggregate_id} at version {version}")


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def scan_all(table) -> list[dict]:
    items, kwargs = [], {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def folded_event_store(ledger: LedgerClient) -> dict[str, dict]:
    """What the read model must hold: every account of the event store, folded (as views)."""
    from functions.ledger.account import StoredEvent, fold

    by_account: dict[str, list[StoredEvent]] = {}
    for item in scan_all(ledger.event_store):
        by_account.setdefault(item["AggregateId"], []).append(StoredEvent.from_item(item))
    return {a: fold(a, sorted(es, key=lambda e: e.version)).to_view()
            for a, es in by_account.items()}


def read_model_views(ledger: LedgerClient) -> dict[str, dict]:
    from functions.ledger.account import Account

    return {i["AggregateId"]: Account.from_item(i).to_view() for i in scan_all(ledger.read_model)}
