"""Property-based fuzzing of the deployed pipeline (Hypothesis; examples: --lsh-fuzz-examples).

Properties: every valid event ends CONFIRMED exactly once; every invalid one is refused (API) or
ends in the DLQ (anything published to the topic); nothing is lost, whatever the keys, bodies,
duplicates and delivery order.
"""

from __future__ import annotations

import json
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from harness import strategies as H
from tests.e2e.upload_pipeline import strategies as S
from harness.dlq import DeadLetterQueue
from harness.pytest_plugin import FUZZ_PROFILE


def fuzz():
    return settings(settings.get_profile(FUZZ_PROFILE))


@fuzz()
@given(body=S.valid_api_payloads())
def test_every_valid_api_event_is_confirmed_exactly_once(client, inbox, body):
    resp = client.post_api(body)
    assert resp.status == 202, (body, resp.body)
    item = client.wait_for_status(resp.event_id)
    assert json.loads(item["payload"]) == body.get("payload", {})
    assert len(inbox.wait_for(resp.event_id)) == 1


@fuzz()
@given(body=S.invalid_api_payloads())
def test_every_invalid_api_body_is_refused_with_400(client, body):
    resp = client.post_api(body)
    assert resp.status == 400, (body, resp.status, resp.body)
    assert resp.body.get("message"), resp.body


@fuzz()
@given(key=H.s3_keys(), body=H.bodies())
def test_every_upload_is_confirmed_exactly_once(client, key, body):
    key = f"fuzz/{uuid.uuid4().hex[:8]}/{key}"
    key = key.encode()[:1024].decode(errors="ignore")
    client.upload(key, body)
    item = client.wait_for_upload(key)  # asserts exactly one item for the key
    assert item["object_key"] == key


@fuzz()
@given(details=st.lists(S.eventbridge_details(with_event_id=True), min_size=1, max_size=4,
                        unique_by=lambda d: d["event_id"]), data=st.data())
def test_duplicated_and_reordered_deliveries_are_confirmed_once_each(client, inbox, details,
                                                                     data):
    run = uuid.uuid4().hex[:8]
    for detail in details:
        detail["event_id"] = f"{run}-{detail['event_id']}"
    schedule = data.draw(H.delivery_schedules(len(details)), label="delivery schedule")
    for index in schedule:
        client.put_bus_event(details[index])
    for detail in details:
        event_id = f"bus-{detail['event_id']}"
        client.wait_for_status(event_id)
        assert len(inbox.wait_for(event_id)) == 1
    for detail in details:  # late duplicates would have shown up by now
        assert len(inbox.received(f"bus-{detail['event_id']}")) == 1


@settings(settings.get_profile(FUZZ_PROFILE), max_examples=2)
@given(messages=st.lists(S.poison_messages(), min_size=1, max_size=4))
def test_every_invalid_message_ends_in_the_dlq(localstack, client, pipeline, messages):
    dlq = DeadLetterQueue(localstack, pipeline.outputs["IngestQueueUrl"])
    run = uuid.uuid4().hex[:8]
    marked = []
    for i, message in enumerate(messages):
        marker = f"lsh-fuzz-{run}-{i}"
        # keep the message as invalid as drawn, and findable: wrap text, tag JSON objects
        if message.startswith("{"):
            doc = json.loads(message)
            doc["lsh_marker"] = marker
            message = json.dumps(doc)
        else:
            message = f"{message} {marker}"
        client.publish_raw(message)
        marked.append(marker)
    for marker in marked:
        letter = dlq.wait_for(marker, timeout=60)
        dlq.assert_receive_count(letter)
