"""The upload pipeline's demo scenario (``make demo``): end to end, with a report a person can read.

Starts LocalStack (by the caller), deploys ``infra/``, then sends one upload, one API event, one
bus event, one API event with an ``Idempotency-Key`` and its retry (a duplicate), and one poison
message; follows each through the pipeline and prints a table of the stages each reached with
their times, and a summary line. Exit code 0 only when every event is where it should be.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass, field

from harness.deploy import CdkApp, deploy_app
from harness.localstack import LocalStack
from tests.e2e.apps import reference_app
from tests.e2e.upload_pipeline.client import NotificationInbox, PipelineClient
from harness.probes import peek_messages
from harness.waits import EventuallyTimeout, Policy, eventually

#: retries 3 s apart, so the poison message reaches the DLQ within the demo's patience
DEMO_CONTEXT = {"retry_delay_seconds": "3"}
DEADLINE_SECONDS = 45.0
TITLE = "upload pipeline (seed 003): S3 / API / bus -> SNS -> SQS -> Lambda -> DynamoDB -> confirmation"


def pipeline_app(context: dict | None = None) -> CdkApp:
    return reference_app("upload_pipeline", dict(context if context is not None else DEMO_CONTEXT))


#: the app the demo runner (``tests/e2e/demo.py``) deploys for :func:`scenario`
app = pipeline_app


@dataclass
class Tracked:
    source: str
    label: str
    sent_at: float
    event_id: str | None = None
    object_key: str | None = None
    expect: str = "CONFIRMED"  # or "DLQ" or "DUPLICATE"
    duplicate_of: "Tracked | None" = None
    marker: str | None = None
    stages: dict[str, float] = field(default_factory=dict)
    final: str = "LOST"
    note: str = ""


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _ms(t: Tracked, stage: str) -> str:
    return f"+{1000 * (t.stages[stage] - t.sent_at):.0f} ms" if stage in t.stages else "-"


def run_demo(localstack: LocalStack, out=print, synthesized=None) -> int:
    started = time.monotonic()
    deployed = deploy_app(localstack, pipeline_app(), synthesized=synthesized)
    out(f"deployed stack LshPipeline into {localstack.endpoint_url} in "
        f"{time.monotonic() - started:.1f} s ({json.dumps(deployed.timings)})")
    return scenario(localstack, deployed, out)


def scenario(localstack: LocalStack, deployed, out=print) -> int:
    """Send the demo's events into the deployed app, follow them, print the table and summary;
    0 when every event ended where it should."""
    client = PipelineClient(localstack, deployed.outputs)
    inbox = NotificationInbox(localstack, deployed.outputs["NotificationTopicArn"])
    run = uuid.uuid4().hex[:6]
    try:
        tracked = send_all(client, run)
        follow(client, inbox, localstack, deployed.outputs, tracked)
    finally:
        inbox.close()
    return report(tracked, out)


def send_all(client: PipelineClient, run: str) -> list[Tracked]:
    tracked = []
    key = f"demo/{run}/invoice 2026-11.csv"
    t = Tracked("s3", "upload", time.time(), object_key=key)
    client.upload(key, b"id,amount\n1,9.99\n")
    tracked.append(t)

    t = Tracked("api", "POST /events", time.time())
    t.event_id = client.post_api({"type": "order.created", "payload": {"order": f"o-{run}"}}).event_id
    tracked.append(t)

    t = Tracked("bus", "PutEvents", time.time())
    t.event_id = client.put_bus_event({"type": "stock.counted", "payload": {"sku": f"s-{run}"}})
    tracked.append(t)

    key_header = f"demo-{run}"
    body = {"type": "payment.captured", "payload": {"amount": 42}}
    t = Tracked("api", "POST + Idempotency-Key", time.time())
    t.event_id = client.post_api(body, idempotency_key=key_header).event_id
    tracked.append(t)
    dup = Tracked("api", "same Idempotency-Key again", time.time(), expect="DUPLICATE",
                  duplicate_of=t)
    dup.event_id = client.post_api(body, idempotency_key=key_header).event_id
    tracked.append(dup)

    marker = f"poison-{run}"
    poison = Tracked("sns", "malformed message", time.time(), expect="DLQ", marker=marker)
    poison.event_id = "sns:" + client.publish_raw(json.dumps({"oops": marker}))[:8]
    tracked.append(poison)
    return tracked


def follow(client: PipelineClient, inbox: NotificationInbox, localstack: LocalStack,
           outputs: dict, tracked: list[Tracked]) -> None:
    sqs = localstack.client("sqs")
    deadline = time.monotonic() + DEADLINE_SECONDS

    def settled() -> bool:
        done = True
        for t in tracked:
            if t.expect == "DLQ":
                done &= _check_dlq(sqs, localstack.client("logs"), outputs, t)
            elif t.expect == "CONFIRMED":
                done &= _check_confirmed(client, inbox, t)
        return done

    try:
        eventually(settled, max(1.0, deadline - time.monotonic()),
                   policy=Policy(initial=0.05, cap=0.25), description="every demo event settled")
    except EventuallyTimeout:
        pass  # the report says which ones did not
    for t in tracked:
        if t.expect == "DUPLICATE":
            original = t.duplicate_of
            same = t.event_id == original.event_id
            notes = len(inbox.received(original.event_id)) if original.event_id else 0
            t.final = "DUPLICATE IGNORED" if same and notes == 1 else "DUPLICATE PROCESSED"
            t.note = f"same event id as its original, {notes} notification(s) in all"


def _check_confirmed(client: PipelineClient, inbox: NotificationInbox, t: Tracked) -> bool:
    if t.final == "CONFIRMED":
        return True
    if t.object_key and not t.event_id:
        items = client.items_for_key(t.object_key)
        if not items:
            return False
        t.event_id = items[0]["event_id"]
    item = client.item(t.event_id)
    if not item:
        return False
    t.stages["recorded"] = _epoch(item["recorded_at"])
    t.final = item["status"]
    if item.get("confirmed_at"):
        t.stages["confirmed"] = _epoch(item["confirmed_at"])
    if item["status"] != "CONFIRMED":
        return False
    notes = inbox.received(t.event_id)
    if not notes:
        t.final = "CONFIRMED, NOT NOTIFIED"
        return False
    t.stages["notified"] = time.time()
    t.final = "CONFIRMED"
    return True


def _check_dlq(sqs, logs, outputs: dict, t: Tracked) -> bool:
    if t.final == "IN DLQ":
        return True
    for message in peek_messages(sqs, outputs["IngestDlqUrl"]):
        if t.marker in message["Body"]:
            t.final = "IN DLQ"
            t.stages["dead-lettered"] = time.time()
            t.note = _rejections(logs, outputs, message["MessageId"])
            return True
    return False


def _rejections(logs, outputs: dict, message_id: str) -> str:
    """What the processor logged for this message id (the DLQ keeps the message's id)."""
    group = f"/aws/lambda/{outputs['ProcessorFunctionName']}"
    lines = []
    for event in logs.filter_log_events(logGroupName=group,
                                        filterPattern=f'"{message_id}"').get("events", []):
        try:
            line = json.loads(event["message"])
        except ValueError:
            continue
        if line.get("message") == "rejected message" and line.get("message_id") == message_id:
            lines.append(line)
    if not lines:
        return "no rejection logged by the processor"
    return f"rejected {len(lines)} times by the processor: {lines[-1].get('reason', '?')[:70]}"


def report(tracked: list[Tracked], out=print) -> int:
    header = (f"{'source':<6} {'sent as':<28} {'event id':<40} {'recorded':>10} "
              f"{'confirmed':>10} {'notified':>10}  final")
    out("")
    out(header)
    out("-" * len(header))
    for t in tracked:
        out(f"{t.source:<6} {t.label:<28} {(t.event_id or '?')[:40]:<40} {_ms(t, 'recorded'):>10} "
            f"{_ms(t, 'confirmed'):>10} {_ms(t, 'notified'):>10}  {t.final}"
            + (f" ({t.note})" if t.note else ""))
    confirmed = sum(t.final == "CONFIRMED" for t in tracked if t.expect == "CONFIRMED")
    duplicates = sum(t.final == "DUPLICATE IGNORED" for t in tracked)
    dead = sum(t.final == "IN DLQ" for t in tracked)
    wrong = [t for t in tracked if (t.expect, t.final) not in (
        ("CONFIRMED", "CONFIRMED"), ("DUPLICATE", "DUPLICATE IGNORED"), ("DLQ", "IN DLQ"))]
    lost = sum(t.final == "LOST" for t in tracked)
    out("")
    out(f"{confirmed} confirmed, {duplicates} duplicate ignored, {dead} in DLQ, {lost} lost"
        + (f"; NOT AS EXPECTED: {', '.join(t.label for t in wrong)}" if wrong else ""))
    return 0 if not wrong else 1
