"""The ledger's demo scenario (``make demo``): the seed's account walkthrough, end to end.

Sends the seed's commands for a new account (create, deposit 100.50, ...), one withdrawal beyond
the balance and one with a stale ``expectedVersion``; follows each accepted event into the read
model; then empties the account's read model and rebuilds it by replaying the bus's archive.
Prints a table and one summary line; 0 only when every command ended where it should.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from harness.deploy import CdkApp
from harness.probes import queue_depth
from harness.replay import replay_archive
from harness.waits import EventuallyTimeout, eventually
from tests.e2e.apps import reference_app
from tests.e2e.ledger.client import LedgerClient, money

TITLE = "ledger (seed 004): commands -> event store -> stream -> read model; bus archive -> replay"
DEMO_CONTEXT = {"projection_retries": "1"}
DEADLINE_SECONDS = 30.0
#: a replay's events reach the projection as asynchronous invocations, each of which may start
#: an execution environment: slower than the stream's path on a busy machine
REBUILD_DEADLINE_SECONDS = 60.0


def app() -> CdkApp:
    return reference_app("ledger", DEMO_CONTEXT)


def scenario(localstack, deployed, out=print) -> int:
    ledger = LedgerClient(localstack, deployed.outputs)
    acc = f"account-{uuid.uuid4().hex[:8]}"
    started = datetime.now(UTC)
    steps = [  # label, send, expected status
        ("AccountCreated", lambda: ledger.create(acc), 200),
        ("deposit 100.50", lambda: ledger.transact(acc, "deposit", 100.50, "tx-789"), 200),
        ("withdrawal 30.25", lambda: ledger.transact(acc, "withdrawal", 30.25, "tx-790"), 200),
        ("deposit 9.75", lambda: ledger.transact(acc, "deposit", 9.75, "tx-791"), 200),
        ("withdrawal 1000 (beyond balance)",
         lambda: ledger.transact(acc, "withdrawal", 1000, "tx-792"), 400),
        ("deposit, stale expectedVersion 1",
         lambda: ledger.transact(acc, "deposit", 5, "tx-793", expected_version=1), 409),
    ]
    out(f"{'command':34} {'answer':12} {'projected':>10}  final")
    ok = 0
    for label, send, expected in steps:
        sent = time.monotonic()
        answer = send()
        status = answer["statusCode"]
        shown = f"v{answer['version']}" if status == 200 else f"{status} {answer['errorType']}"
        projected, final = "-", "REJECTED AS EXPECTED" if status == expected != 200 else ""
        if status == expected == 200:
            try:
                ledger.wait_projected(acc, answer["version"], timeout=DEADLINE_SECONDS)
                projected = f"+{1000 * (time.monotonic() - sent):.0f} ms"
                final = "PROJECTED"
            except EventuallyTimeout:
                final = "NOT PROJECTED"
        elif status != expected:
            final = f"WRONG ANSWER (expected {expected}): {answer.get('errorMessage', '')}"
        ok += final in ("PROJECTED", "REJECTED AS EXPECTED")
        out(f"{label:34} {shown:12} {projected:>10}  {final}")

    rebuilt = ledger.query("reconstructState", acc)
    ledger.read_model.delete_item(Key={"AggregateId": acc})
    sent = time.monotonic()
    outcome = replay_archive(ledger.events, deployed.outputs["EventArchive"],
                             deployed.outputs["EventBusName"],
                             since=started - timedelta(minutes=1), timeout=DEADLINE_SECONDS)
    try:
        eventually(lambda: ledger.query("getReadModel", acc) == rebuilt, REBUILD_DEADLINE_SECONDS,
                   description="the read model rebuilt by the replay")
        replayed = f"rebuilt by replay {outcome.name} in {1000 * (time.monotonic() - sent):.0f} ms"
        ok += 1
    except EventuallyTimeout:
        dlq = queue_depth(ledger.sqs, deployed.outputs["ProjectionDlqUrl"])
        replayed = (f"NOT rebuilt by replay {outcome.name} ({outcome.state}): read model "
                    f"{ledger.query('getReadModel', acc)}; projection DLQ {dlq}")
    out(f"balance {money(rebuilt['balance'])} at version {rebuilt['version']} "
        f"(reconstructState); read model {replayed}")
    total = len(steps) + 1
    out(f"\n{ok} of {total} where they should be: 4 appended and projected, 2 rejected, "
        f"1 rebuild; {total - ok} wrong")
    return 0 if ok == total else 1
