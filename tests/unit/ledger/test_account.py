"""The account aggregate (pure): parsing commands, the rules, the fold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from functions.ledger.account import (Account, CommandRejected, ConcurrencyConflict, StoredEvent,
                                      check, fold, parse_command, to_json_safe)

A = "account-123"


def event(version: int, kind: str, **data) -> StoredEvent:
    return StoredEvent(A, version, f"e{version}", kind, data, "2024-01-15T10:00:00Z")


def history() -> list[StoredEvent]:
    return [event(1, "AccountCreated", customerId="customer-456", accountType="checking"),
            event(2, "TransactionProcessed", transactionId="tx-789", amount=Decimal("100.50"),
                  type="deposit", timestamp="2024-01-15T10:30:00Z"),
            event(3, "TransactionProcessed", transactionId="tx-790", amount=Decimal("0.25"),
                  type="withdrawal")]


def test_fold_of_the_seed_walkthrough():
    state = fold(A, history())
    assert (state.version, state.balance, state.transaction_count, state.status) == (
        3, Decimal("100.25"), 2, "active")
    assert state.last_transaction_at == "2024-01-15T10:00:00Z"  # tx-790 has no timestamp
    assert Account.from_item(state.to_item()) == state


def test_fold_refuses_a_gap():
    with pytest.raises(ValueError, match="has version 3, the state is at 1"):
        fold(A, [history()[0], history()[2]])


def test_seed_command_parses_with_exact_amounts():
    command = parse_command({"aggregateId": A, "eventType": "TransactionProcessed",
                             "eventData": {"transactionId": "tx-789", "amount": 100.50,
                                           "type": "deposit",
                                           "timestamp": "2024-01-15T10:30:00Z"}})
    assert command.eventData["amount"] == Decimal("100.50")
    assert command.expectedVersion is None


@pytest.mark.parametrize("payload, text", [
    ([], "a command is a JSON object, got list"),
    ({"aggregateId": A, "eventType": "Teleported"}, "eventType: Input should be"),
    ({"aggregateId": "", "eventType": "AccountClosed"}, "aggregateId: String should have"),
    ({"aggregateId": A, "eventType": "TransactionProcessed",
      "eventData": {"transactionId": "t", "amount": -1, "type": "deposit"}},
     "invalid TransactionProcessed command: eventData.amount: Input should be greater than 0"),
    ({"aggregateId": A, "eventType": "TransactionProcessed",
      "eventData": {"transactionId": "t", "amount": 1, "type": "gift"}},
     "eventData.type: Input should be"),
    ({"aggregateId": A, "eventType": "AccountCreated", "eventData": {},
      "expectedVersion": -1}, "expectedVersion: Input should be greater than or equal to 0"),
])
def test_malformed_commands_get_one_line_naming_the_field(payload, text):
    with pytest.raises(CommandRejected, match=text.replace("(", r"\(")) as info:
        parse_command(payload)
    assert "\n" not in str(info.value)


def command(kind: str, expected: int | None = None, **data):
    return parse_command({"aggregateId": A, "eventType": kind, "eventData": data,
                          **({} if expected is None else {"expectedVersion": expected})})


def test_rules():
    none, state = Account(A), fold(A, history())
    deposit = command("TransactionProcessed", transactionId="t", amount=5, type="deposit")
    with pytest.raises(CommandRejected, match=f"account {A} does not exist"):
        check(none, deposit)
    with pytest.raises(CommandRejected, match="already exists"):
        check(state, command("AccountCreated", customerId="c", accountType="checking"))
    with pytest.raises(CommandRejected, match="exceeds its balance 100.25"):
        check(state, command("TransactionProcessed", transactionId="t", amount="100.26",
                             type="withdrawal"))
    check(state, command("TransactionProcessed", transactionId="t", amount="100.25",
                         type="withdrawal"))
    with pytest.raises(ConcurrencyConflict, match="is at version 3, the command expected 2"):
        check(state, command("TransactionProcessed", 2, transactionId="t", amount=5,
                             type="deposit"))
    closed = state.apply(event(4, "AccountClosed"))
    with pytest.raises(CommandRejected, match="is closed"):
        check(closed, deposit)


def test_json_safe_numbers():
    assert to_json_safe({"a": [Decimal("1"), Decimal("100.50")]}) == {"a": [1, 100.5]}
