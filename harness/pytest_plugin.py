"""pytest plugin (entry point ``pytest11``): a LocalStack for the test session.

Fixtures:

- ``localstack`` (session): a :class:`harness.localstack.LocalStack` with ``endpoint_url``,
  ``region`` and ``client(service_name)``. Started once, stopped after the last test, also when
  tests fail or the run is interrupted. When a conftest.py of the paths given has a fixture that
  uses it, the embedded LocalStack starts at session start, while pytest collects, and warms the
  apps' usual services (``LSH_EARLY_START=0``: at the first test that needs it).
  Its change feed wakes waiting checks (``harness.changes``; ``LSH_CHANGE_FEED=0``: poll only).
- ``localstack_settings`` (session): extra LocalStack settings (environment variables) for the
  embedded backend; override it in your ``conftest.py`` to change them.
- ``cdk_app`` (session): the CDK app to deploy (a :class:`harness.deploy.CdkApp`); by default the
  folder given by ``--lsh-cdk-app`` / ``LSH_CDK_APP``, else the rootdir if it has a ``cdk.json``.
  Override it to deploy something else.
- ``deploy`` (session): a factory, ``deploy(CdkApp(...))`` deploys an app once per session (by
  its fingerprint) and returns its :class:`~harness.deploy.deployer.DeployedApp`: ``.outputs``
  (every stack's; a name two stacks share is an error), ``.stack_outputs(name)``, ``.stacks``,
  ``.resources(type)``, ``.api_url(path)``. Each app's ``conftest.py`` builds its own fixture on it.
- ``deployed_app`` (session): ``deploy(cdk_app)``.

Options: ``--lsh-backend`` (``LSH_BACKEND``; ``embedded`` or ``external``), ``--lsh-endpoint``
(``LSH_ENDPOINT``/``AWS_ENDPOINT_URL``, for ``external``), ``--lsh-port`` (``LSH_PORT``),
``--lsh-startup-timeout`` (``LSH_STARTUP_TIMEOUT``), ``--lsh-parameter [STACK:]NAME=VALUE``
(CloudFormation parameter values for the apps ``deploy`` deploys; repeatable). While an
``lsh up`` runs what the session would start (:mod:`harness.up_state`), the session uses its
LocalStack instead of starting one; the run's header says which it used and
``localstack.reused_up`` is that up's pid (else None). ``--lsh-fresh`` / ``LSH_REUSE_UP=0``:
always a fresh LocalStack.
"""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from pathlib import Path

from harness import changes
from harness.changes import ChangeFeed
from harness.config import HarnessConfig
from harness.deploy import CdkApp, deploy_app
from harness.deploy.deployer import DeployedApp
from harness.errors import HarnessError, SettingError
from harness.localstack import Backend, LocalStack, create_backend, kept_logs, leftovers, liveness


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
    group.addoption("--lsh-fresh", action="store_true", default=False,
                    help="start a fresh LocalStack even while an `lsh up` runs (by default the "
                         "session reuses a running `lsh up` that runs what it would start) "
                         "[env LSH_REUSE_UP=0]")
    group.addoption("--lsh-startup-timeout", type=float, default=None,
                    help="seconds to wait for LocalStack to be ready (default 60) "
                         "[env LSH_STARTUP_TIMEOUT]")
    group.addoption("--lsh-fuzz-examples", type=int, default=None,
                    help="examples per property-based test of the harness's `lsh-fuzz` "
                         "Hypothesis profile (default 5; raise it for long local runs) "
                         "[env LSH_FUZZ_EXAMPLES]")
    group.addoption("--lsh-cdk-app", default=None,
                    help="folder holding the cdk.json of the app to deploy [env LSH_CDK_APP]")
    group.addoption("--lsh-parameter", action="append", default=[], metavar="[STACK:]NAME=VALUE",
                    help="a CloudFormation parameter value for the apps `deploy` deploys, where a "
                         "stack declares it and the test's CdkApp(parameters=...) does not give "
                         "one (repeatable)")


FUZZ_PROFILE = "lsh-fuzz"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``lsh-fuzz`` Hypothesis profile: examples from ``--lsh-fuzz-examples``, no
    per-example deadline (events cross real queues), and failing examples printed shrunk.
    A bad setting (``LSH_*``, ``--lsh-*``) stops the run here with one line naming it."""
    try:
        cfg = harness_config(config)
    except SettingError as exc:
        raise pytest.UsageError(str(exc)) from None
    _interrupt_on_sigterm()
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # the [fuzz] extra is not installed: nothing to register
        settings = None
    if settings is not None:
        _register_fuzz_profile(cfg.fuzz_examples, settings, HealthCheck)
    elif config.getoption("lsh_fuzz_examples"):
        from harness.extras import missing_extra

        raise pytest.UsageError(str(missing_extra("hypothesis", "fuzz", "--lsh-fuzz-examples")))
    if _is_xdist_controller(config):
        up = up_to_reuse(config)
        if up:  # pytest-xdist: the workers share the running `lsh up`'s LocalStack
            config._lsh_shared_endpoint = up["endpoint_url"]  # type: ignore[attr-defined]
        elif cfg.backend == "embedded":
            # pytest-xdist: one LocalStack for all workers, owned (and stopped) by the controller
            backend = create_backend(cfg.backend, **cfg.backend_options())
            config._lsh_shared_backend = backend  # type: ignore[attr-defined]
            config._lsh_shared_endpoint = backend.start().endpoint_url  # type: ignore[attr-defined]


def _interrupt_on_sigterm() -> None:
    """SIGTERM / SIGHUP end the session as Ctrl-C does (teardown runs: LocalStack stopped, its run
    folder removed, its log kept and named) instead of killing pytest on the spot; a second one
    kills it."""
    import signal
    import threading

    def interrupt(signum: int, _frame: object) -> None:
        signal.signal(signum, signal.SIG_DFL)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) == signal.SIG_DFL:
                signal.signal(sig, interrupt)


def _register_fuzz_profile(examples: int, settings, HealthCheck) -> None:
    settings.register_profile(
        FUZZ_PROFILE, max_examples=examples, deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large])


def _is_xdist_controller(config: pytest.Config) -> bool:
    return (config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput")
            and bool(getattr(config.option, "numprocesses", None))
            and getattr(config.option, "dist", "no") != "no")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    endpoint = getattr(node.config, "_lsh_shared_endpoint", None)
    if endpoint:
        node.workerinput["lsh_shared_endpoint"] = endpoint
        up = up_to_reuse(node.config)
        node.workerinput["lsh_reused_up"] = up["pid"] if up else None


def pytest_unconfigure(config: pytest.Config) -> None:
    early = _take_early_start(config)
    if early is not None:  # started early, then no test took it (e.g. interrupted collection)
        early.discard()
    backend = getattr(config, "_lsh_shared_backend", None)
    if backend is not None:
        backend.stop()


def harness_config(config: pytest.Config) -> HarnessConfig:
    return HarnessConfig.from_env(
        backend=config.getoption("lsh_backend"),
        endpoint=config.getoption("lsh_endpoint"),
        port=config.getoption("lsh_port"),
        startup_timeout=config.getoption("lsh_startup_timeout"),
        fuzz_examples=config.getoption("lsh_fuzz_examples"),
        cdk_app=config.getoption("lsh_cdk_app"),
        reuse_up=False if config.getoption("lsh_fresh") else None,
    )


#: the running ``lsh up`` this session reuses (its ``up.json``) or None, and the header line
REUSE = pytest.StashKey["tuple[dict | None, str | None]"]()


def _reuse_decision(config: pytest.Config) -> tuple[dict | None, str | None]:
    """Whether to reuse a running ``lsh up``, and the line that says what was chosen and why
    (None when no ``lsh up`` runs). Decided once per session."""
    if REUSE in config.stash:
        return config.stash[REUSE]
    from harness import up_state

    cfg = harness_config(config)
    up = up_state.running() if cfg.backend == "embedded" else None
    if up is None:
        decision: tuple[dict | None, str | None] = (None, None)
    else:
        found = f"the running `lsh up` (pid {up['pid']}) at {up['endpoint_url']}"
        if not cfg.reuse_up:
            why = "--lsh-fresh" if config.getoption("lsh_fresh") else "LSH_REUSE_UP=0"
        elif cfg.port is not None:
            why = f"--lsh-port / LSH_PORT {cfg.port} asks for a LocalStack of its own"
        else:
            why = up_state.why_not_reusable(up, up_state.launch_signature("embedded"))
        if why is None:
            decision = (up, f"lsh: reusing the LocalStack of {found}: no start "
                            "(--lsh-fresh or LSH_REUSE_UP=0 starts a fresh one)")
        else:
            decision = (None, f"lsh: starting a fresh LocalStack, not reusing {found}: {why}")
    config.stash[REUSE] = decision
    return decision


def up_to_reuse(config: pytest.Config) -> dict | None:
    """The running ``lsh up`` (its ``up.json`` state) whose LocalStack this session uses instead
    of starting one: by default, when it runs what the session would start (same backend,
    venvs, plugin source and LocalStack settings; no ``--lsh-port``), else None."""
    return _reuse_decision(config)[0]


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say at the top of the run whether the session reuses a running ``lsh up``, or why not."""
    if getattr(config, "workerinput", None) is not None:
        return None
    try:
        return _reuse_decision(config)[1]
    except SettingError:  # reported by the fixture, where it fails the tests
        return None


# ------------------------------------------------ early start: LocalStack starts while pytest collects

#: what an early-started LocalStack loads right after it is ready (the apps are not known yet):
#: the services the apps' deploys usually need, then CloudWatch (Lambda publishes metrics there
#: on each function's first invoke, which would otherwise load it in the middle of a test)
EARLY_WARM_UP = ("cloudformation", "s3", "lambda", "iam", "sqs", "sns", "events", "dynamodb",
                 "logs", "apigateway", "cloudwatch")
#: fixtures whose use means a test needs the session's LocalStack
NEEDS_LOCALSTACK = frozenset({"localstack", "localstack_backend", "deploy", "deployed_app",
                              "lambda_faults"})


class EarlyStart:
    """An embedded LocalStack starting in a thread, from session start on, while pytest collects
    and imports the tests (one core each: LocalStack's start is GIL-bound in its own process)."""

    def __init__(self, backend: Backend) -> None:
        import threading

        self.backend = backend
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._start, name="lsh-early-start", daemon=True)
        self.thread.start()

    def _start(self) -> None:
        try:
            self.backend.start()
        except BaseException as exc:  # raised in the fixture that takes the backend
            self.error = exc

    def result(self) -> Backend:
        """The started backend (waits for the start); its start's error if it failed."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.backend

    def discard(self) -> None:
        self.backend.stop()
        self.thread.join(timeout=5)
        self.backend.stop()  # in case the start was still before its process


EARLY_START = pytest.StashKey[EarlyStart]()


#: fixtures whose use means the session deploys an app (then the early start warms services)
DEPLOYS = frozenset({"deploy", "deployed_app"})


def _conftest_fixture_args(config: pytest.Config) -> set[str] | None:
    """The arguments of the fixtures in the conftest.py files loaded at start (those of the
    paths given); None when one overrides ``localstack_settings`` (which the early start cannot
    know)."""
    import inspect
    import os

    args: set[str] = set()
    for plugin in config.pluginmanager.get_plugins():
        if os.path.basename(getattr(plugin, "__file__", None) or "") != "conftest.py":
            continue
        for value in list(vars(plugin).values()):
            wrapped = getattr(value, "_get_wrapped_function", None)
            if wrapped is None:  # not a fixture
                continue
            if getattr(value, "name", None) == "localstack_settings":
                return None
            try:
                args |= set(inspect.signature(wrapped()).parameters)
            except (TypeError, ValueError):
                continue
    return args


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start the embedded LocalStack now, in a thread, when the session's conftest fixtures use
    it: it is ready by the time collection is done, and when they deploy an app (an app's e2e
    folder) it warms the apps' usual services meanwhile. ``LSH_EARLY_START=0`` starts it at the
    first test that needs it instead."""
    import os

    config = session.config
    if (getattr(config, "workerinput", None) is not None  # an xdist worker
            or hasattr(config, "_lsh_shared_endpoint")  # an xdist controller: started already
            or config.option.collectonly or getattr(config.option, "showfixtures", False)
            or getattr(config.option, "show_fixtures_per_test", False)):
        return
    try:
        cfg = harness_config(config)
        if not cfg.early_start or cfg.backend != "embedded" or up_to_reuse(config):
            return
    except SettingError:  # reported by pytest_configure / the fixture
        return
    args = _conftest_fixture_args(config)
    if not args or not NEEDS_LOCALSTACK & args:
        return
    options = cfg.backend_options()
    if DEPLOYS & args and "LSH_WARM_SERVICES" not in os.environ:
        options["settings"] = {"LSH_WARM_SERVICES": ",".join(EARLY_WARM_UP)}
    config.stash[EARLY_START] = EarlyStart(create_backend(cfg.backend, **options))


def pytest_collection_finish(session: pytest.Session) -> None:
    """No test selected needs LocalStack after all (``-k``, ``--lf``): stop the early one."""
    if EARLY_START in session.config.stash and not any(
            NEEDS_LOCALSTACK & set(getattr(item, "fixturenames", ())) for item in session.items):
        _take_early_start(session.config).discard()


def _take_early_start(config: pytest.Config) -> EarlyStart | None:
    early = config.stash.get(EARLY_START, None)
    if early is not None:
        del config.stash[EARLY_START]
    return early


@pytest.fixture(scope="session")
def localstack_settings() -> dict[str, str]:
    """Extra LocalStack settings for the embedded backend. Override to change them."""
    return {}


@pytest.fixture(scope="session")
def localstack_backend(pytestconfig: pytest.Config, request: pytest.FixtureRequest,
                       localstack_settings: dict[str, str]) -> Iterator[Backend]:
    shared = getattr(pytestconfig, "workerinput", {}).get("lsh_shared_endpoint")
    if shared:  # an xdist worker: the controller runs LocalStack for everyone
        backend = create_backend("external", endpoint_url=shared)
        yield backend
        return
    cfg = harness_config(pytestconfig)
    up = up_to_reuse(pytestconfig)
    if up and localstack_settings:
        from harness._progress import print_progress

        print_progress(f"not reusing the running `lsh up` (pid {up['pid']}) after all: this "
                       "session overrides localstack_settings; starting a fresh LocalStack")
        pytestconfig.stash[REUSE] = (None, None)
        up = None
    if up:  # a running `lsh up`: no start; it stays up after the session
        yield create_backend("external", endpoint_url=up["endpoint_url"],
                             region=up.get("region"))
        return
    options = cfg.backend_options()
    if cfg.backend == "embedded" and localstack_settings:
        options["settings"] = localstack_settings
    early = _take_early_start(pytestconfig)
    if early is not None and localstack_settings:  # settings it was not started with
        early.discard()
        early = None
    backend = early.result() if early is not None else create_backend(cfg.backend, **options)
    try:
        yield backend
    finally:
        _keep_logs_if_failed(request.session, backend)
        endpoint = getattr(getattr(backend, "localstack", None), "endpoint_url", None)
        backend.stop()
        if endpoint:  # this session owned that LocalStack, and so its deploy lock
            leftovers.deploy_lock_path(endpoint).unlink(missing_ok=True)


def _keep_logs_if_failed(session: pytest.Session, backend: Backend) -> None:
    """A failed, interrupted or crashed session keeps LocalStack's and the functions' logs."""
    died = getattr(backend, "death", lambda: None)()
    interrupted = getattr(session, "exitstatus", 0) == pytest.ExitCode.INTERRUPTED
    if not (session.testsfailed or interrupted or died):
        return
    reason = ("LocalStack died" if died else "interrupted" if interrupted
              else f"{session.testsfailed} failed test(s)")
    folder = kept_logs.keep(backend, getattr(backend, "localstack", None), reason)
    if folder is not None:
        session.config.stash.setdefault(KEPT_LOGS, []).append((reason, folder))


KEPT_LOGS = pytest.StashKey[list]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """After LocalStack died, every later test errors at once with how, when and its log."""
    liveness.check()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Name the kept log folders (LocalStack's log, functions/*.log) of a failed session."""
    for reason, folder in config.stash.get(KEPT_LOGS, []):
        terminalreporter.write_sep("-", "localstack-e2e-harness: logs kept")
        terminalreporter.write_line(f"{reason}: LocalStack's log and the functions' logs are kept "
                                    f"in {folder} (localstack.log, functions/*.log)")


@pytest.fixture(scope="session")
def localstack(pytestconfig: pytest.Config, localstack_backend: Backend) -> Iterator[LocalStack]:
    """A running LocalStack for the whole session.

    While it runs, its change feed (:mod:`harness.changes`) is the active one, so every
    ``eventually`` wait re-runs its check as soon as LocalStack changes something; set
    ``LSH_CHANGE_FEED=0`` to poll only.

    ``localstack.reused_up``: the pid of the running ``lsh up`` whose LocalStack this is, or None
    when the session started its own (or shares its xdist controller's)."""
    handle = localstack_backend.start()
    worker = getattr(pytestconfig, "workerinput", None)
    if worker is not None:  # an xdist worker: what its controller chose
        handle.reused_up = worker.get("lsh_reused_up")
    else:
        up = up_to_reuse(pytestconfig)
        handle.reused_up = up["pid"] if up else None
    with liveness.watching(handle):  # a waiting check fails at once if LocalStack dies
        if not harness_config(pytestconfig).change_feed:
            yield handle
            return
        with ChangeFeed(handle.endpoint_url) as feed, changes.activate(feed):
            yield handle


@pytest.fixture(scope="session")
def cdk_app(pytestconfig: pytest.Config) -> CdkApp:
    """The CDK app the ``deployed_app`` fixture deploys. Override to choose another."""
    chosen = harness_config(pytestconfig).cdk_app
    folder = Path(chosen) if chosen else Path(pytestconfig.rootpath)
    if not (folder / "cdk.json").is_file():
        raise HarnessError(f"no cdk.json in {folder}: point --lsh-cdk-app / LSH_CDK_APP at your "
                           "CDK app's folder, or override the `cdk_app` fixture")
    return CdkApp(folder, fallback_parameters=cli_parameters(pytestconfig))


def cli_parameters(config: pytest.Config) -> dict[str, str]:
    """``--lsh-parameter NAME=VALUE`` (or ``STACK:NAME=VALUE``) options as a dict."""
    values = {}
    for item in config.getoption("lsh_parameter") or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise pytest.UsageError(f"--lsh-parameter {item!r}: write it as NAME=VALUE "
                                    "(or STACK:NAME=VALUE)")
        values[name] = value
    return values


@pytest.fixture(scope="session")
def deploy(request: pytest.FixtureRequest) -> Callable[..., DeployedApp]:
    """``deploy(app)``: a :class:`~harness.deploy.CdkApp` deployed into the session's LocalStack,
    once per session per app (by its fingerprint and chosen stacks); later calls return the same
    :class:`~harness.deploy.deployer.DeployedApp`. Two test folders with two apps get two
    deployments. The first call synthesizes while LocalStack starts.

    Deploys hold a lock per LocalStack, so xdist workers sharing one deploy one after the other
    (the first deploys, the others find nothing to change)."""
    import dataclasses
    import fcntl

    from harness.deploy.deployer import synth_in_background

    deployed: dict[tuple, DeployedApp] = {}

    def _deploy(app: CdkApp) -> DeployedApp:
        app = dataclasses.replace(app, fallback_parameters={
            **cli_parameters(request.config), **app.fallback_parameters})
        synthesized = synth_in_background(app)  # synthesize while LocalStack starts
        localstack: LocalStack = request.getfixturevalue("localstack")
        key = (app.fingerprint(localstack.region), tuple(app.stacks or ()))
        if key in deployed:
            return deployed[key]
        with open(leftovers.deploy_lock_path(localstack.endpoint_url), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            deployed[key] = deploy_app(localstack, app, synthesized=synthesized)
        return deployed[key]

    return _deploy


@pytest.fixture(scope="session")
def deployed_app(deploy: Callable[..., DeployedApp], cdk_app: CdkApp) -> DeployedApp:
    """``cdk_app`` deployed into the session's LocalStack (``deploy(cdk_app)``)."""
    return deploy(cdk_app)


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


@pytest.fixture
def lambda_faults(localstack: LocalStack):
    """``lambda_faults.inject(function_name, Fault.raise_error(...))``; every function is put back
    at teardown, whatever the test did."""
    from harness.faults import FaultInjector

    injector = FaultInjector(localstack)
    yield injector
    injector.restore_all()
