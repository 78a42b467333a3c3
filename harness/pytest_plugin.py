"""pytest plugin (entry point ``pytest11``): a LocalStack for the test session.

Fixtures:

- ``localstack`` (session): a :class:`harness.localstack.LocalStack` with ``endpoint_url``,
  ``region`` and ``client(service_name)``. Started once, stopped after the last test, also when
  tests fail or the run is interrupted.
- ``localstack_settings`` (session): extra LocalStack settings (environment variables) for the
  embedded backend; override it in your ``conftest.py`` to change them.

Options: ``--lsh-backend`` (``LSH_BACKEND``; ``embedded`` or ``external``), ``--lsh-endpoint``
(``LSH_ENDPOINT``/``AWS_ENDPOINT_URL``, for ``external``), ``--lsh-port`` (``LSH_PORT``),
``--lsh-startup-timeout`` (``LSH_STARTUP_TIMEOUT``).
"""

from __future__ import annotations

from typing import Iterator

import pytest

from harness.config import HarnessConfig
from harness.localstack import Backend, LocalStack, create_backend


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lsh", "localstack-e2e-harness")
    group.addoption("--lsh-backend", default=None,
                    help="where LocalStack comes from: embedded (default) or external "
                         "[env LSH_BACKEND]")
    group.addoption("--lsh-endpoint", default=None,
                    help="endpoint of an already running LocalStack, for --lsh-backend external "
                         "[env LSH_ENDPOINT or AWS_ENDPOINT_URL]")
    group.addoption("--lsh-port", type=int, default=None,
                    help="loopback port for the embedded LocalStack (default: a free one) "
                         "[env LSH_PORT]")
    group.addoption("--lsh-startup-timeout", type=float, default=None,
                    help="seconds to wait for LocalStack to be ready (default 60) "
                         "[env LSH_STARTUP_TIMEOUT]")


def harness_config(config: pytest.Config) -> HarnessConfig:
    return HarnessConfig.from_env(
        backend=config.getoption("lsh_backend"),
        endpoint=config.getoption("lsh_endpoint"),
        port=config.getoption("lsh_port"),
        startup_timeout=config.getoption("lsh_startup_timeout"),
    )


@pytest.fixture(scope="session")
def localstack_settings() -> dict[str, str]:
    """Extra LocalStack settings for the embedded backend. Override to change them."""
    return {}


@pytest.fixture(scope="session")
def localstack_backend(pytestconfig: pytest.Config,
                       localstack_settings: dict[str, str]) -> Iterator[Backend]:
    cfg = harness_config(pytestconfig)
    options = cfg.backend_options()
    if cfg.backend == "embedded" and localstack_settings:
        options["settings"] = localstack_settings
    backend = create_backend(cfg.backend, **options)
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture(scope="session")
def localstack(localstack_backend: Backend) -> LocalStack:
    """A running LocalStack for the whole session."""
    return localstack_backend.start()
