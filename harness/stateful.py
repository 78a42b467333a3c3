"""Stateful property-based testing of a deployed app: a Hypothesis ``RuleBasedStateMachine`` whose
rules act on the real system and whose invariants compare it with a model.

A deployed app is eventually consistent, so invariants come in two kinds:

- ``@invariant()`` methods (Hypothesis's own) run after every step: keep them to what holds at
  once (a strongly consistent read, a command's answer);
- :meth:`DeployedStateMachine.settled` holds what only holds once the system has caught up
  (projections, queues, replays): it runs, as an eventual check with a deadline (woken by
  LocalStack's change feed), in :meth:`~DeployedStateMachine.settle`, which runs at the end of
  every example (``teardown``) and wherever a rule calls it.

It needs the ``[fuzz]`` extra (Hypothesis), so ``harness`` itself does not export its names
(all of those work without extras): import from ``harness.stateful``. The number of steps and
examples is bounded by :func:`stateful_settings` (the ``lsh-fuzz``
profile: ``--lsh-fuzz-examples``; steps: ``LSH_STATEFUL_STEPS``, default 10), so the test fits CI.

    class Accounts(DeployedStateMachine):
        @rule(amount=st.integers(1, 100))
        def deposit(self, amount): ...
        @invariant()
        def versions_have_no_gaps(self): ...
        def settled(self):
            assert read_model() == fold(event_store())

    def test_accounts(localstack, stack):
        run_deployed_machine(Accounts, localstack, stack)
"""

from __future__ import annotations

from typing import Any, Callable

from harness.config import HarnessConfig
from harness.extras import require
from harness.waits import eventually

_hypothesis = require("hypothesis", "fuzz", "harness.stateful")
HealthCheck, settings = _hypothesis.HealthCheck, _hypothesis.settings
_stateful = require("hypothesis.stateful", "fuzz", "harness.stateful")
RuleBasedStateMachine = _stateful.RuleBasedStateMachine
run_state_machine_as_test = _stateful.run_state_machine_as_test

#: the Hypothesis profile the pytest plugin registers (examples from --lsh-fuzz-examples)
FUZZ_PROFILE = "lsh-fuzz"
DEFAULT_STEPS = 10


def stateful_settings(steps: int | None = None, examples: int | None = None) -> settings:
    """Settings for a deployed state machine: the ``lsh-fuzz`` profile when registered (else
    Hypothesis's defaults without deadline), ``steps`` rules per example (default
    ``LSH_STATEFUL_STEPS`` or 10), ``examples`` examples (default: the profile's)."""
    try:
        base = settings.get_profile(FUZZ_PROFILE)
    except Exception:  # InvalidArgument: profile not registered (no pytest plugin)
        base = settings(deadline=None)
    steps = steps or HarnessConfig.from_env().stateful_steps
    if steps < 1:
        raise ValueError(f"LSH_STATEFUL_STEPS must be at least 1, got {steps}")
    kwargs: dict[str, Any] = {"stateful_step_count": steps, "deadline": None,
                              "suppress_health_check": [HealthCheck.too_slow,
                                                        HealthCheck.function_scoped_fixture]}
    if examples is not None:
        kwargs["max_examples"] = examples
    return settings(base, **kwargs)


class DeployedStateMachine(RuleBasedStateMachine):
    """Base of a state machine over a deployed app: ``self.localstack`` (the session's handle),
    ``self.deployed`` (e.g. a :class:`~harness.deploy.DeployedApp`), eventual checks."""

    #: seconds :meth:`settle` waits for :meth:`settled` to hold
    settle_timeout: float = 60.0

    def __init__(self, localstack: Any, deployed: Any) -> None:
        super().__init__()
        self.localstack, self.deployed = localstack, deployed

    def settled(self) -> None:
        """Assert what holds once the system has caught up (override; raise AssertionError)."""

    def settle(self, timeout: float | None = None) -> None:
        """Wait until :meth:`settled` passes; on timeout, its last failure says what differed."""
        def check() -> bool:
            self.settled()
            return True

        eventually(check, timeout or self.settle_timeout,
                   description=f"{type(self).__name__}.settled()")

    def eventually(self, check: Callable[[], Any], description: str,
                   timeout: float | None = None) -> Any:
        """:func:`harness.eventually` with this machine's deadline."""
        return eventually(check, timeout or self.settle_timeout, description=description)

    def teardown(self) -> None:
        self.settle()


def run_deployed_machine(machine: type[DeployedStateMachine], localstack: Any, deployed: Any,
                         *, settings: settings | None = None, **kwargs: Any) -> None:
    """Run ``machine`` against the deployed app as a test (examples and steps bounded by
    ``settings``, default :func:`stateful_settings`); extra ``kwargs`` go to its constructor."""
    run_state_machine_as_test(lambda: machine(localstack, deployed, **kwargs),
                              settings=settings or stateful_settings())
