"""Small, pinned fixes to LocalStack 4.8.1 behaviour, applied at start-up by :mod:`.run`.

Each one names the divergence it fixes; all are listed in docs/localstack-divergences.md.
"""

from __future__ import annotations


def cap_first_empty_poll_backoff() -> None:
    """Make ``LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC`` cap the *first* backoff too.

    LocalStack's event-source worker backs off 1 s (±50 %) after the first empty poll whatever
    that setting says (``ExponentialBackoff`` returns ``initial_interval`` uncapped), so a message
    that arrives on an idle queue waits up to 1.5 s; AWS's pollers long-poll continuously.
    """
    from localstack.services.lambda_.event_source_mapping import esm_worker
    from localstack.utils.backoff import ExponentialBackoff

    class CappedExponentialBackoff(ExponentialBackoff):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.initial_interval = min(self.initial_interval, self.max_interval)

    esm_worker.ExponentialBackoff = CappedExponentialBackoff


def apply_all() -> None:
    cap_first_empty_poll_backoff()
