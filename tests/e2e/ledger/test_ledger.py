"""The ledger deployed into LocalStack: commands, both queries, conflicts, the projection DLQ."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from tests.e2e.ledger.client import money


def account() -> str:
    return f"account-{uuid.uuid4().hex[:10]}"


def test_seed_walkthrough_gives_the_same_state_through_both_queries(ledger):
    acc = account()
    created = ledger.create(acc)
    assert created["statusCode"] == 200 and created["version"] == 1 and created["eventId"]
    assert ledger.transact(acc, "deposit", 100.50, "tx-789")["version"] == 2
    assert ledger.transact(acc, "withdrawal", 30.25, "tx-790")["version"] == 3
    assert ledger.transact(acc, "deposit", 9.75, "tx-791")["version"] == 4

    ledger.wait_projected(acc, 4)
    rebuilt, projected = (ledger.query("reconstructState", acc),
                          ledger.query("getReadModel", acc))
    for state in (rebuilt, projected):
        assert state["statusCode"] == 200
        assert money(state["balance"]) == Decimal("80.00")
        assert (state["version"], state["transactionCount"], state["status"]) == (4, 3, "active")
        assert state["customerId"] == "customer-456"
    assert rebuilt == projected
    assert [int(e["Version"]) for e in ledger.stored_events(acc)] == [1, 2, 3, 4]


def test_rejected_commands_write_nothing(ledger):
    acc = account()
    missing = ledger.transact(acc, "deposit", 10, "tx-1")
    assert missing["statusCode"] == 400
    assert f"account {acc} does not exist" in missing["errorMessage"]
    ledger.create(acc)
    ledger.transact(acc, "deposit", 10, "tx-2")
    overdraft = ledger.transact(acc, "withdrawal", "10.01", "tx-3")
    assert overdraft["statusCode"] == 400 and "exceeds its balance 10" in overdraft["errorMessage"]
    bad = ledger.send(acc, "TransactionProcessed", {"transactionId": "tx-4", "amount": -5,
                                                    "type": "deposit"})
    assert bad["statusCode"] == 400 and bad["errorType"] == "CommandRejected"
    assert "eventData.amount: Input should be greater than 0" in bad["errorMessage"]
    unknown = ledger.query("balanceOf", acc)
    assert unknown["statusCode"] == 400
    assert "unknown queryType 'balanceOf'" in unknown["errorMessage"]
    assert len(ledger.stored_events(acc)) == 2


def test_a_stale_expected_version_is_a_conflict_and_appends_nothing(ledger):
    acc = account()
    ledger.create(acc)
    ledger.transact(acc, "deposit", 50, "tx-1", expected_version=1)
    stale = ledger.transact(acc, "deposit", 5, "tx-2", expected_version=1)
    assert stale["statusCode"] == 409 and stale["errorType"] == "ConcurrencyConflict"
    assert "is at version 2" in stale["errorMessage"]
    assert [int(e["Version"]) for e in ledger.stored_events(acc)] == [1, 2]


def test_two_concurrent_appends_at_the_same_version_exactly_one_wins(ledger):
    acc = account()
    ledger.create(acc)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda i: ledger.transact(acc, "deposit", 10 + i, f"tx-{i}",
                                                          expected_version=1), range(2)))
    assert sorted(a["statusCode"] for a in answers) == [200, 409], answers
    stored = ledger.stored_events(acc)
    assert [int(e["Version"]) for e in stored] == [1, 2]
    winner = next(a for a in answers if a["statusCode"] == 200)
    assert stored[1]["EventId"] == winner["eventId"]


def test_racing_appends_without_expected_version_never_leave_a_gap_or_a_trace(ledger):
    """Without ``expectedVersion`` both commands are checked against the same state; the
    conditional append lets them through one after the other or turns the loser into a 409."""
    acc = account()
    ledger.create(acc)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: ledger.transact(acc, "deposit", 1 + i, f"tx-{i}"),
                                range(4)))
    accepted = [a for a in answers if a["statusCode"] == 200]
    assert accepted and all(a["statusCode"] in (200, 409) for a in answers), answers
    stored = ledger.stored_events(acc)
    assert [int(e["Version"]) for e in stored] == list(range(1, len(accepted) + 2))
    assert {e["EventId"] for e in stored[1:]} == {a["eventId"] for a in accepted}
    expected = sum(Decimal(1 + i) for i, a in enumerate(answers) if a["statusCode"] == 200)
    assert money(ledger.wait_projected(acc, len(accepted) + 1)["balance"]) == expected
