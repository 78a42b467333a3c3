"""Stateful property test of the deployed ledger (harness.stateful): Hypothesis picks a sequence
of commands (create, deposit, withdraw, stale, concurrent and racing appends, a missing account,
a replay) and after each step compares the deployed system with a model of it.

At once after every step (strongly consistent reads): the account's versions have no gaps and are
exactly the accepted commands' (a rejected command left no trace). Once settled (eventually,
the projection is asynchronous): the read model equals the fold of the event store, and
``reconstructState`` and ``getReadModel`` both equal the model.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, invariant, precondition, rule

from functions.ledger.account import Account, StoredEvent, fold
from harness.replay import replay_archive
from harness.stateful import DeployedStateMachine, run_deployed_machine
from tests.e2e.ledger.client import LedgerClient, money

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)


@dataclass
class ModelAccount:
    balance: Decimal = Decimal(0)
    event_ids: list[str] = field(default_factory=list)

    @property
    def version(self) -> int:
        return len(self.event_ids)


class LedgerMachine(DeployedStateMachine):
    accounts = Bundle("accounts")
    settle_timeout = 30.0

    def __init__(self, localstack, deployed):
        super().__init__(localstack, deployed)
        self.ledger = LedgerClient(localstack, deployed.outputs)
        self.model: dict[str, ModelAccount] = {}
        self.touched: str | None = None
        self.started = datetime.now(UTC)
        self.run = uuid.uuid4().hex[:10]
        self.replayed = False

    def accepted(self, acc: str, answer: dict) -> None:
        model = self.model[acc]
        assert answer["statusCode"] == 200, answer
        assert answer["version"] == model.version + 1, (answer, model)
        model.event_ids.append(answer["eventId"])
        self.touched = acc

    def rejected(self, acc: str, answer: dict, status: int) -> None:
        assert answer["statusCode"] == status, answer
        self.touched = acc

    @rule(target=accounts)
    def create(self):
        # the deployed system keeps every example's accounts: each name is new for it
        acc = f"account-{self.run}-{len(self.model)}"
        self.model[acc] = ModelAccount()
        self.accepted(acc, self.ledger.create(acc))
        return acc

    @rule(acc=accounts, amount=amounts)
    def deposit(self, acc, amount):
        self.accepted(acc, self.ledger.transact(acc, "deposit", float(amount), "tx-d"))
        self.model[acc].balance += amount

    @rule(acc=accounts, share=st.integers(1, 100))
    def withdraw_part_of_the_balance(self, acc, share):
        amount = max(Decimal("0.01"),
                     (self.model[acc].balance * share / 100).quantize(Decimal("0.01")))
        self.withdraw(acc, amount)

    @rule(acc=accounts, amount=amounts)
    def withdraw(self, acc, amount):
        answer = self.ledger.transact(acc, "withdrawal", float(amount), "tx-w")
        if amount > self.model[acc].balance:
            self.rejected(acc, answer, 400)
            assert "exceeds its balance" in answer["errorMessage"]
        else:
            self.accepted(acc, answer)
            self.model[acc].balance -= amount

    @rule(acc=accounts, amount=amounts)
    def stale_deposit(self, acc, amount):
        answer = self.ledger.transact(acc, "deposit", float(amount), "tx-s",
                                      expected_version=self.model[acc].version - 1)
        self.rejected(acc, answer, 409)

    @rule(amount=amounts)
    def deposit_to_a_missing_account(self, amount):
        acc = f"account-missing-{uuid.uuid4().hex[:8]}"
        answer = self.ledger.transact(acc, "deposit", float(amount), "tx-m")
        assert answer["statusCode"] == 400 and "does not exist" in answer["errorMessage"]
        assert self.ledger.stored_events(acc) == []

    @rule(acc=accounts, first=amounts, second=amounts)
    def concurrent_deposits(self, acc, first, second):
        version = self.model[acc].version
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(
                lambda a: self.ledger.transact(acc, "deposit", float(a), "tx-c",
                                               expected_version=version), (first, second)))
        codes = sorted(a["statusCode"] for a in answers)
        assert codes == [200, 409], answers
        winner = 0 if answers[0]["statusCode"] == 200 else 1
        self.accepted(acc, answers[winner])
        self.model[acc].balance += (first, second)[winner]

    @rule(acc=accounts, first=amounts, second=amounts)
    def racing_deposits(self, acc, first, second):
        """Without expectedVersion: both go through one after the other, or one gets a 409."""
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(
                lambda a: self.ledger.transact(acc, "deposit", float(a), "tx-r"), (first, second)))
        assert all(a["statusCode"] in (200, 409) for a in answers), answers
        won = sorted((a["version"], amount) for a, amount in zip(answers, (first, second))
                     if a["statusCode"] == 200)
        assert won, answers
        by_version = {a["version"]: a for a in answers if a["statusCode"] == 200}
        for version, amount in won:
            self.accepted(acc, by_version[version])
            self.model[acc].balance += amount

    @precondition(lambda self: self.model and not self.replayed)
    @rule()
    def replay(self):
        """Replaying the archive (this example's window) into the bus changes nothing."""
        self.settle()
        self.replayed = True
        outcome = replay_archive(self.ledger.events, self.deployed.outputs["EventArchive"],
                                 self.deployed.outputs["EventBusName"],
                                 since=self.started - timedelta(minutes=1), timeout=60)
        assert outcome.state == "COMPLETED"

    @invariant()
    def versions_are_exactly_the_accepted_commands(self):
        if self.touched is None:
            return
        stored = self.ledger.stored_events(self.touched)
        assert [int(e["Version"]) for e in stored] == list(
            range(1, self.model[self.touched].version + 1))
        assert [e["EventId"] for e in stored] == self.model[self.touched].event_ids

    def settled(self):
        for acc, model in self.model.items():
            events = [StoredEvent.from_item(i) for i in self.ledger.stored_events(acc)]
            folded = fold(acc, events)
            assert (folded.version, folded.balance) == (model.version, model.balance), acc
            item = self.ledger.view(acc)
            assert item is not None, f"{acc} is not in the read model"
            assert Account.from_item(item) == folded, (item, folded)
            for query in ("reconstructState", "getReadModel"):
                state = self.ledger.query(query, acc)
                assert (state["version"], money(state["balance"]),
                        state["transactionCount"]) == (
                    model.version, model.balance, folded.transaction_count), (query, state)


def test_the_deployed_ledger_behaves_like_its_model(localstack, stack):
    run_deployed_machine(LedgerMachine, localstack, stack)
