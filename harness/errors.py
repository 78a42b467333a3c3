"""Exceptions of the harness. Each message names the thing that failed and the fix."""


class HarnessError(Exception):
    """Base class of every error the harness raises on purpose."""


class EnvironmentBuildError(HarnessError):
    """A cached virtualenv (LocalStack's or the Lambda functions') could not be built."""


class LocalStackStartError(HarnessError):
    """LocalStack did not become ready. The message carries the cause and the tail of its log."""

    def __init__(self, message: str, log_tail: str = "", log_path: str | None = None):
        self.reason = message
        self.log_tail = log_tail
        self.log_path = log_path
        text = message
        if log_tail:
            text += f"\n--- last lines of LocalStack's log ({log_path or 'output'}) ---\n{log_tail}"
        super().__init__(text)


class LocalStackNotReachable(HarnessError):
    """An external LocalStack endpoint does not answer its health check."""


class LocalStackDied(HarnessError):
    """LocalStack exited while the harness still used it: how, when, its log's tail and path."""

    def __init__(self, how: str, when: str, log_tail: str = "", log_path: str | None = None):
        self.how, self.when, self.log_tail, self.log_path = how, when, log_tail, log_path
        text = f"LocalStack exited ({how}) at {when}"
        if log_path:
            text += f"; its log is kept at {log_path}"
        if log_tail:
            text += f"\n--- last lines of LocalStack's log ---\n{log_tail}"
        super().__init__(text)


class SettingError(HarnessError):
    """A setting (``LSH_*``, ``AWS_ENDPOINT_URL``, a command-line option) has a bad value."""
