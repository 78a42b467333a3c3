"""localstack-e2e-harness: end-to-end tests of event-driven AWS apps against a real LocalStack.

Public API (imports are light: nothing here starts LocalStack by itself):

- :func:`create_backend`, :class:`LocalStack`: get a running LocalStack (embedded or external);
- :func:`eventually`: retry a check with backoff until it holds or a deadline passes;
- :class:`SnsPublishLog`: what was published to SNS topics (recorded by the harness's plugin);
- the pytest plugin (:mod:`harness.pytest_plugin`) gives the ``localstack`` fixture.
"""

from harness.errors import (EnvironmentBuildError, HarnessError, LocalStackNotReachable,
                            LocalStackStartError)
from harness.localstack import Backend, EmbeddedBackend, ExternalBackend, LocalStack, create_backend
from harness.sns_log import PublishRecord, SnsPublishLog, SnsPublishLogUnavailable
from harness.waits import DEFAULT_POLICY, EventuallyTimeout, Policy, eventually, eventually_async

__all__ = [
    "Backend", "EmbeddedBackend", "ExternalBackend", "LocalStack", "create_backend",
    "eventually", "eventually_async", "Policy", "DEFAULT_POLICY", "EventuallyTimeout",
    "HarnessError", "EnvironmentBuildError", "LocalStackStartError", "LocalStackNotReachable",
    "SnsPublishLog", "PublishRecord", "SnsPublishLogUnavailable",
]
