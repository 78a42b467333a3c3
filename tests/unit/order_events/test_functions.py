"""The order-events handlers against moto: what the publisher puts on the bus (or refuses), and
what the processor stores."""

from __future__ import annotations

import pytest

SEED = {"orderId": "TEST-1234", "customer": "John Doe",
        "items": [{"id": "product-123", "quantity": 2}]}


def envelope(detail: dict, detail_type: str = "order_placed", time: str = "2026-12-02T03:04:05Z"):
    return {"version": "0", "id": "evt-1", "source": "custom.myapp", "account": "123456789012",
            "time": time, "region": "us-east-1", "resources": [], "detail-type": detail_type,
            "detail": detail}


def test_publisher_puts_the_order_with_default_status_and_type(order_aws, lambda_context):
    from functions.order_events import publisher

    result = publisher.handler(dict(SEED), lambda_context)
    [event] = order_aws.put_events()
    assert result == {"eventId": event["id"]}
    assert event["bus"] == "orders"
    assert event["source"] == "custom.myapp" and event["detail-type"] == "order_placed"
    assert event["detail"] == {**SEED, "status": "PLACED"}


def test_publisher_takes_status_detail_type_and_extra_fields(order_aws, lambda_context):
    from functions.order_events import publisher

    publisher.handler({**SEED, "status": "SHIPPED", "detailType": "order_shipped",
                       "channel": "web", "items": [{"id": "p", "quantity": 1, "price": 9.5}]},
                      lambda_context)
    [event] = order_aws.put_events()
    assert event["detail-type"] == "order_shipped"
    assert event["detail"] == {"orderId": "TEST-1234", "customer": "John Doe", "channel": "web",
                               "items": [{"id": "p", "quantity": 1, "price": 9.5}],
                               "status": "SHIPPED"}


@pytest.mark.parametrize("payload, message", [
    ({}, "orderId: Field required; customer: Field required; items: Field required"),
    ({**SEED, "items": [{"id": "p", "quantity": "2"}]},
     "items.0.quantity: Input should be a valid integer"),
    ({**SEED, "customer": "   "}, "customer: String should have at least 1 character"),
    ({**SEED, "detailType": None}, "detailType: Input should be a valid string"),
])
def test_publisher_refuses_bad_input_naming_each_field(order_aws, lambda_context, payload,
                                                       message):
    from functions.order_events import publisher

    with pytest.raises(publisher.InvalidOrderRequest) as info:
        publisher.handler(payload, lambda_context)
    assert str(info.value) == f"invalid order request, nothing published: {message}"
    assert order_aws.put_events() == []


def test_publisher_says_when_eventbridge_refuses_the_entry(order_aws, lambda_context,
                                                          monkeypatch):
    from functions.order_events import publisher

    refused = {"Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "bus gone"}],
               "FailedEntryCount": 1}
    monkeypatch.setattr(publisher._events(), "put_events", lambda **_: refused)
    refusal = "EventBridge refused order TEST-1234's event: InternalFailure: bus gone"
    with pytest.raises(publisher.PublishFailed, match=refusal):
        publisher.handler(dict(SEED), lambda_context)


def test_processor_stores_the_order_for_the_type_and_time_index(order_aws, lambda_context):
    from functions.order_events import processor

    detail = {**SEED, "status": "PLACED", "items": [{"id": "p", "quantity": 2, "price": 9.5}]}
    assert processor.handler(envelope(detail), lambda_context) == {"orderId": "TEST-1234"}
    item = order_aws.item("TEST-1234")
    assert item["event_type"] == "order_placed" and item["timestamp"] == "2026-12-02T03:04:05.000Z"
    assert item["status"] == "PLACED" and item["customer"] == "John Doe"
    assert item["event_id"] == "evt-1" and item["source"] == "custom.myapp"
    assert item["items"][0]["price"] == pytest.approx(9.5)
    from boto3.dynamodb.conditions import Key

    found = order_aws.dynamodb.Table(order_aws.table).query(
        IndexName="by_event_type",
        KeyConditionExpression=Key("event_type").eq("order_placed")
        & Key("timestamp").between("2026-12-02T03:00:00.000Z", "2026-12-02T03:10:00.000Z"))
    assert [i["order_id"] for i in found["Items"]] == ["TEST-1234"]


def test_processor_refuses_an_event_that_is_not_an_order(order_aws, lambda_context):
    from functions.order_events import processor

    with pytest.raises(processor.InvalidOrderEvent,
                       match=r"^event evt-1 is not an order: detail.orderId: Field required$"):
        processor.handler(envelope({"customer": "x", "items": [], "status": "PLACED"}),
                          lambda_context)
    assert order_aws.item("x") is None
