"""The consumer's one end-to-end test: it uses only the installed harness (its pytest plugin's
``localstack`` and ``deployed_app`` fixtures; ``cdk_app`` defaults to this folder's cdk.json)."""

import json
import uuid

from harness import eventually


def test_a_queued_record_lands_in_the_table(localstack, deployed_app):
    record_id = str(uuid.uuid4())
    localstack.client("sqs").send_message(
        QueueUrl=deployed_app.outputs["QueueUrl"],
        MessageBody=json.dumps({"id": record_id, "amount": 42}))
    table = localstack.resource("dynamodb").Table(deployed_app.outputs["TableName"])

    def stored() -> dict:
        item = table.get_item(Key={"id": record_id}, ConsistentRead=True).get("Item")
        assert item is not None, f"record {record_id} not in the table yet"
        return item

    item = eventually(stored, timeout=60)
    assert item["amount"] == 42
    assert item["received_at"].isdigit()
