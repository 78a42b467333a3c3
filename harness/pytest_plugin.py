"""pytest plugin (entry point ``pytest11``): a LocalStack for the test session.

Fixtures:

- ``localstack`` (session): a :class:`harness.localstack.LocalStack` with ``endpoint_url``,
  ``region`` and ``client(service_name)``. Started once, stopped after the last test, also when
  tests fail or the run is interrupted.
- ``localstack_settings`` (session): extra LocalStack settings (environment variables) for the
  embedded backend; override it in your ``conftest.py`` to change them.
- ``cdk_app`` (session): the CDK app to deploy (a :class:`harness.deploy.CdkApp`); by default the
  folder given by ``--lsh-cdk-app`` / ``LSH_CDK_APP``, else the rootdir if it has a ``cdk.json``.
  Override it to deploy something else.
- ``deployed_app`` (session): ``cdk_app`` deployed into ``localstack``: ``.outputs`` (every stack's
  outputs), ``.stacks``, ``.api_url(path)``.

Options: ``--lsh-backend`` (``LSH_BACKEND``; ``embedded`` or ``external``), ``--lsh-endpoint``
(``LSH_ENDPOINT``/``AWS_ENDPOINT_URL``, for ``external``), ``--lsh-port`` (``LSH_PORT``),
``--lsh-startup-timeout`` (``LSH_STARTUP_TIMEOUT``).
"""

from __future__ import annotations

from typing import Iterator

import pytest

from pathlib import Path

from harness.config import HarnessConfig
from harness.deploy import CdkApp, deploy_app
from harness.deploy.deployer import DeployedApp
from harness.errors import HarnessError
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
    group.addoption("--lsh-cdk-app", default=None,
                    help="folder holding the cdk.json of the app to deploy [env LSH_CDK_APP]")


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


@pytest.fixture(scope="session")
def cdk_app(pytestconfig: pytest.Config) -> CdkApp:
    """The CDK app the ``deployed_app`` fixture deploys. Override to choose another."""
    import os

    chosen = pytestconfig.getoption("lsh_cdk_app") or os.environ.get("LSH_CDK_APP")
    folder = Path(chosen) if chosen else Path(pytestconfig.rootpath)
    if not (folder / "cdk.json").is_file():
        raise HarnessError(f"no cdk.json in {folder}: point --lsh-cdk-app / LSH_CDK_APP at your "
                           "CDK app's folder, or override the `cdk_app` fixture")
    return CdkApp(folder)


@pytest.fixture(scope="session")
def deployed_app(localstack: LocalStack, cdk_app: CdkApp) -> DeployedApp:
    """``cdk_app`` deployed into the session's LocalStack (a no-change redeploy is a no-op)."""
    return deploy_app(localstack, cdk_app)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A timed-out eventual assertion gets its diagnosis as a report section of its own."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None:
        return
    from harness.waits import EventuallyTimeout

    error = call.excinfo.value
    while error is not None and not isinstance(error, EventuallyTimeout):
        error = error.__cause__ or error.__context__
    if error is not None and error.diagnosis:
        report.sections.append(("where it got stuck (harness diagnosis)", error.diagnosis))
