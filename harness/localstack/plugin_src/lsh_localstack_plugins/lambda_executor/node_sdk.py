"""The AWS SDK for JavaScript v3 that Node.js functions find, as on AWS's nodejs18.x+ runtimes.

AWS's Node runtimes ship ``@aws-sdk/client-*`` in ``/var/runtime/node_modules`` (on ``NODE_PATH``),
and CDK's own Node handlers (custom resources: auto-delete objects, log retention,
``AwsCustomResource``, the ``Provider`` framework) rely on it. Here the clients are installed from
npm once into a cache folder (like the Python functions' venv) and put on the function's
``NODE_PATH``. Stdlib only: it runs inside LocalStack's venv, on the first Node function, and from
``harness.localstack.venvs`` to build it ahead of time.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

#: exact versions (npm's latest 3.x when this was written); CDK's handlers need the first six,
#: ``AwsCustomResource`` loads ``@aws-sdk/client-<service>`` for whichever service it calls
NODE_SDK_PACKAGES = (
    "@aws-sdk/client-s3@3.1175.0",
    "@aws-sdk/client-cloudwatch-logs@3.1169.0",
    "@aws-sdk/client-lambda@3.1164.0",
    "@aws-sdk/client-sfn@3.1164.0",
    "@aws-sdk/client-ssm@3.1169.0",
    "@aws-sdk/client-iam@3.1169.0",
    "@aws-sdk/client-dynamodb@3.1169.0",
    "@aws-sdk/client-sqs@3.1175.0",
    "@aws-sdk/client-sns@3.1169.0",
    "@aws-sdk/client-sts@3.1177.0",
    "@aws-sdk/client-eventbridge@3.1169.0",
    "@aws-sdk/client-secrets-manager@3.1164.0",
    "@aws-sdk/client-kms@3.1164.0",
    "@aws-sdk/client-cloudformation@3.1169.0",
    "@aws-sdk/client-kinesis@3.1143.0",
    "@aws-sdk/credential-providers@3.1175.0",
)
NODE_MODULES_ENV = "LSH_FUNCTION_NODE_MODULES"
COMPLETE_MARKER = ".lsh-complete"


class NodeSdkError(RuntimeError):
    pass


def node_sdk_dir(cache_root: Path) -> Path:
    """The folder (holding ``node_modules``) for the current package list under ``cache_root``."""
    key = hashlib.sha256("\0".join(NODE_SDK_PACKAGES).encode()).hexdigest()[:12]
    return cache_root / f"lambda-nodejs-sdk-{key}"


def ensure_node_sdk(cache_root: Path, log=None) -> Path:
    """The ``node_modules`` folder with the SDK clients, installed with npm on first use.

    Holds a file lock while building, so parallel LocalStacks install once; a half-built folder
    (interrupted install) is thrown away and rebuilt.
    """
    target = node_sdk_dir(cache_root)
    modules = target / "node_modules"
    if (target / COMPLETE_MARKER).is_file():
        return modules
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(str(target) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / COMPLETE_MARKER).is_file():
            return modules
        npm = shutil.which("npm")
        if not npm:
            raise NodeSdkError(
                "Node.js Lambda functions need the AWS SDK for JavaScript v3, installed once with "
                "npm, and npm is not on PATH: install Node.js with npm, or point "
                f"{NODE_MODULES_ENV} at a node_modules folder holding the @aws-sdk clients"
            )
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        (target / "package.json").write_text('{"private": true}\n')
        started = time.monotonic()
        if log:
            log(f"installing the AWS SDK for JavaScript v3 for Node.js functions, once, in {target}")
        logfile = target / "npm-install.log"
        with open(logfile, "wb") as out:
            result = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts",
                 "--no-package-lock", "--omit=dev", *NODE_SDK_PACKAGES],
                cwd=target, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        if result.returncode != 0:
            tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-15:])
            raise NodeSdkError(
                f"npm could not install the AWS SDK for JavaScript v3 (exit {result.returncode}); "
                f"is the npm registry reachable? Full log: {logfile}\n{tail}"
            )
        (target / COMPLETE_MARKER).write_text(" ".join(NODE_SDK_PACKAGES))
        if log:
            log(f"installed the AWS SDK for JavaScript v3 in {time.monotonic() - started:.0f} s")
    return modules


def resolve_node_modules(function_python: str | None, log=None) -> Path:
    """``$LSH_FUNCTION_NODE_MODULES`` if set, else the cached SDK beside the functions' Python
    venv (``<cache>/lambda-python-*/bin/python`` -> ``<cache>/lambda-nodejs-sdk-*``)."""
    given = os.environ.get(NODE_MODULES_ENV)
    if given:
        if not os.path.isdir(given):
            raise NodeSdkError(f"{NODE_MODULES_ENV}={given} is not a folder")
        return Path(given)
    if not function_python:
        raise NodeSdkError(f"set {NODE_MODULES_ENV} to a node_modules folder with the @aws-sdk clients")
    return ensure_node_sdk(Path(function_python).parent.parent.parent, log)
