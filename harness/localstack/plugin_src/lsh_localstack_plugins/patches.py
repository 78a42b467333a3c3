"""Small, pinned fixes to LocalStack 4.8.1 behaviour, applied at start-up by :mod:`.run`.

Each one names the divergence it fixes; all are listed in docs/localstack-divergences.md.
"""

from __future__ import annotations

import os


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


def cap_cloudformation_poll_interval() -> None:
    """Poll a resource that is still being created every ``LSH_CFN_POLL_INTERVAL`` s (0.1), not 5 s.

    LocalStack's CloudFormation engine re-checks an in-progress resource (e.g. a Lambda function
    until it is Active, which takes ~100 ms here) only every 5 s, so each function in a stack
    costs 5 s of deploy time. The total time budget per resource stays the same.
    """
    from localstack.services.cloudformation import resource_provider

    interval = float(os.environ.get("LSH_CFN_POLL_INTERVAL", "0.1"))
    executor = resource_provider.ResourceProviderExecutor
    original = executor.deploy_loop

    def deploy_loop(self, provider, resource, raw_payload, max_timeout=None, sleep_time=5):
        kwargs = {} if max_timeout is None else {"max_timeout": max_timeout}
        return original(self, provider, resource, raw_payload,
                        sleep_time=min(sleep_time, interval), **kwargs)

    executor.deploy_loop = deploy_loop


def apply_all() -> None:
    cap_first_empty_poll_backoff()
    cap_cloudformation_poll_interval()
