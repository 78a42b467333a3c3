"""Start LocalStack with a lifeline to the process that started it.

``python -m lsh_localstack_plugins.run`` behaves like ``python -m localstack.runtime.main`` but,
when ``LSH_LIFELINE=stdin``, also watches its standard input: the harness holds the other end of
that pipe and never writes to it, so end-of-file means the harness is gone (exited, crashed or
SIGKILLed). LocalStack then shuts down as on SIGTERM, which also stops the Lambda environments;
if the shutdown hangs it is cut short. This is what keeps LocalStack from outliving a test run.
"""

import os
import signal
import sys
import threading

GRACE_SECONDS = float(os.environ.get("LSH_LIFELINE_GRACE", "10"))


def _watch_stdin() -> None:
    try:
        while sys.stdin.buffer.read(1024):
            pass
    except (OSError, ValueError):
        pass
    sys.stderr.write("lsh: parent process is gone (stdin closed); shutting LocalStack down\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGTERM)
    # a shutdown that hangs must not leave the process behind
    timer = threading.Timer(GRACE_SECONDS, lambda: os._exit(3))
    timer.daemon = True
    timer.start()


def main() -> None:
    from lsh_localstack_plugins import startup_gc

    if startup_gc.enabled():
        startup_gc.pause()  # no collection of start-up's heap until warm (LSH_STARTUP_GC=0: off)
    if os.environ.get("LSH_LIFELINE") == "stdin":
        threading.Thread(target=_watch_stdin, name="lsh-lifeline", daemon=True).start()
    from localstack.runtime.main import main as localstack_main  # first: a broken venv says so

    if os.environ.get("LSH_SHARE_ENDPOINTS", "1") != "0":
        from lsh_localstack_plugins.shared_endpoints import share_endpoint_data

        share_endpoint_data()  # endpoints.json parsed once, not once per boto3 session

    from lsh_localstack_plugins import (changes, code_url_client, events_log, fast_shutdown,
                                        loopback, sfn_lambda_errors, sfn_target, sfn_time, sns_log,
                                        warm_up)
    from lsh_localstack_plugins.patches import apply_all

    loopback.bind_gateway_to_listen_host()
    apply_all()
    sns_log.install()  # only with LSH_SNS_PUBLISH_LOG=1
    sfn_time.install()  # LSH_SFN_TIME_SCALE: virtual time for Step Functions waits and retries
    sfn_target.install()  # EventBridge -> Step Functions targets with InputPath
    events_log.install()  # EventBridge: GET /_lsh/events/log (rules matched, targets)
    sfn_lambda_errors.apply()  # Lambda task errors named Lambda.<code>, so Retry can match
    changes.install()
    warming = warm_up.install()  # LSH_WARM_SERVICES: load those services right after Ready.
    if startup_gc.enabled():
        startup_gc.resume_when_warm(warming.done if warming else None)
    code_url_client.apply()  # GetFunction: one S3 client for code URLs, not one per call
    if not fast_shutdown.enabled():  # LSH_FAST_SHUTDOWN=0
        localstack_main()
        return
    fast_shutdown.interrupt_sqs_long_polls_at_shutdown()  # Lambda's stop no longer waits ~1.5 s
    try:
        localstack_main()
    except SystemExit as done:  # skip the interpreter's ~1 s finalization (fast_shutdown)
        fast_shutdown.exit_now(done.code)


if __name__ == "__main__":
    main()
