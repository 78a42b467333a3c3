#!/usr/bin/env bash
# The harness as a user gets it: build the wheel, install it with the [cdk] extra only into a
# fresh virtualenv, and run tests/consumer_project (a CDK app of its own: cdk.json, infra/,
# handlers/, one pytest test that deploys it and waits for one effect) from a copy outside the
# clone, so nothing of the clone is importable. Any failure fails the script.
#   .ci/consumer.sh                 # `make consumer`; part of `make test`
# LocalStack's cached venv is shared through LSH_CACHE_DIR (default: the harness's usual cache).
# Needs: python3.11 (PYTHON), the project's .venv (BUILD_PYTHON, for setuptools), node, PyPI.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
build_python=${BUILD_PYTHON:-$repo/.venv/bin/python}
export LSH_CACHE_DIR=${LSH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/localstack-e2e-harness}
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONPATH VIRTUAL_ENV

work=$(mktemp -d "${TMPDIR:-/tmp}/lsh-consumer-XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS
step() { echo "consumer.sh [$((SECONDS - started)) s]: $*"; }
fail() { echo "consumer.sh: FAILED: $*" >&2; exit 1; }

# 1. The wheel, built from a copy of the sources (no build/ or egg-info left in the clone).
#    infra/ and functions/ are copied too, and everything is compiled, so a wheel that ships
#    them or __pycache__ (plugin_src is package data) is caught below.
step "building the wheel"
tar -C "$repo" --exclude=cdk.out --exclude='*.egg-info' \
    -cf - pyproject.toml README.md harness infra functions | (mkdir -p "$work/src" && tar -C "$work/src" -xf -)
"$build_python" -m compileall -q "$work/src/harness" > /dev/null || true  # some .py are Lambda code
"$build_python" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$work/src" \
    || fail "the wheel did not build"
wheel=$(ls "$work"/dist/localstack_e2e_harness-*.whl)
"$build_python" - "$wheel" <<'EOF' || fail "the wheel's contents are wrong (see above)"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
problems = [f"ships {n}" for n in names if not n.startswith(("harness/", dist_info + "/"))]
problems += [f"ships compiled {n}" for n in names if "__pycache__" in n or n.endswith(".pyc")]
needed = ["harness/localstack/localstack-4.8.1-constraints.txt",
          "harness/localstack/plugin_src/entry_points.d/lambda_executor.txt",
          "harness/localstack/plugin_src/lsh_localstack_plugins/run.py",
          "harness/localstack/plugin_src/lsh_localstack_plugins/lambda_executor/executor.py",
          "harness/faults/layer/python/lsh_faults/wrapper.py", "harness/pytest_plugin.py"]
problems += [f"lacks {n}" for n in needed if n not in names]
zf = zipfile.ZipFile(sys.argv[1])
entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
metadata = zf.read(f"{dist_info}/METADATA").decode()
problems += [f"lacks entry point {e}" for e in ("harness.pytest_plugin", "harness.cli:main")
             if e not in entry_points]
problems += [f"lacks extra {x}" for x in ("cdk", "fuzz", "containers", "asyncio", "all")
             if f"Provides-Extra: {x}\n" not in metadata]
for p in problems:
    print(f"wheel {sys.argv[1].rsplit('/', 1)[-1]}: {p}", file=sys.stderr)
if not problems:
    print(f"wheel: {len(names)} files, harness only, package data present")
sys.exit(1 if problems else 0)
EOF

# 2. A fresh venv with the wheel and [cdk] only, versions held to requirements-dev.txt's pins.
#    uv (pinned in requirements-dev.txt) when there: its cache makes this ~3 s (pip: ~70 s).
step "installing ${wheel##*/}[cdk] into a fresh venv"
grep -v '\[' "$repo/requirements-dev.txt" > "$work/constraints.txt"  # pins; pip rejects extras here
uv=${UV:-$(command -v "$repo/.venv/bin/uv" uv | head -n1 || true)}
if [[ -n $uv ]]; then
    "$uv" venv -q -p "$python" "$work/venv"
    "$uv" pip install -q -p "$work/venv/bin/python" -c "$work/constraints.txt" "$wheel[cdk]" pytest \
        || fail "uv could not install the wheel with [cdk]"
else
    "$python" -m venv "$work/venv"
    "$work/venv/bin/python" -m pip install -q -c "$work/constraints.txt" "$wheel[cdk]" pytest 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; } \
        || fail "pip could not install the wheel with [cdk]"
fi
cd "$work"
"$work/venv/bin/python" - <<'EOF' || fail "the fresh venv is not what a [cdk]-only user has"
import importlib.util, sys
present = [m for m in ("harness", "aws_cdk", "constructs", "pytest") if not importlib.util.find_spec(m)]
extra = [m for m in ("infra", "functions", "hypothesis", "testcontainers", "docker",
                     "pytest_asyncio", "tests") if importlib.util.find_spec(m)]
for m in present:
    print(f"missing from the venv: {m}", file=sys.stderr)
for m in extra:
    print(f"should not be importable: {m} ({importlib.util.find_spec(m).origin})", file=sys.stderr)
import harness, harness.pytest_plugin
if "/site-packages/" not in harness.__file__:
    sys.exit(f"harness comes from {harness.__file__}, not the installed wheel")
sys.exit(1 if present or extra else 0)
EOF
"$work/venv/bin/lsh" --help > /dev/null || fail "the lsh command does not run"

# 3. The consumer project, copied outside the clone, tested as its owner would.
step "running the consumer project's tests"
cp -r "$repo/tests/consumer_project" "$work/project"
cd "$work/project"
"$work/venv/bin/python" -m pytest -p no:cacheprovider -q -rA --durations=3 \
    || fail "the consumer project's tests failed"
step "passed"
