"""Benchmark LocalStack in Docker: image build (cold, from cached inputs, skipped) and the
``testcontainers`` backend's cold start to ready.

Call :func:`bench_containers` (``bench/startup.py`` does, for its side-by-side), or run
``.venv/bin/python bench/containers_bench.py`` (writes ``bench/results/containers.json``).

- ``image_build_cold``: nothing cached: an empty cache folder (no debootstrap root file system, no
  .debs, no uv download cache, no installed packages) and no image: ``build_image(force=True)``
  with ``LSH_CACHE_DIR`` pointed at a fresh folder; everything is downloaded from Debian and PyPI.
- ``image_build_from_cached_inputs``: the image is rebuilt (``force``) but the root file system
  and the Python trees are cached: what a pin-less recipe change or a ``docker rmi`` costs.
- ``image_build_plugin_change``: only the plugin source changed: the thin top image is rebuilt.
- ``image_build_skipped``: the image is current: one label check.
- ``testcontainers_start_to_ready``: ``TestcontainersBackend().start()`` with the image built,
  N times (includes the image check, the reaper, container create/start and LocalStack's boot).

Each cold or forced build replaces the image tags; the images they replaced are removed when no
container uses them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import summary_ms, write_result  # noqa: E402

from harness.localstack.containers import image as images  # noqa: E402
from harness.localstack.containers.container_backend import TestcontainersBackend  # noqa: E402

QUIET: Callable[[str], None] = lambda _line: None  # noqa: E731


def _ids(*tags: str) -> set[str]:
    found = set()
    for tag in tags:
        if images.image_label(tag, images.LABEL_HASH) is not None:
            found.add(images.image_id(tag))
    return found


def _remove_replaced(before: set[str]) -> None:
    """Remove images a forced build untagged (dangling now), when nothing uses them."""
    current = _ids(images.image_tag(), images.base_tag(), images.STABLE_TAG)
    for image_id in sorted(before - current):
        images._docker("rmi", image_id, check=False)


def _forced_build(progress: Callable[[str], None]) -> images.ImageBuildResult:
    before = _ids(images.image_tag(), images.base_tag(), images.STABLE_TAG)
    result = images.build_image(force=True, progress=progress)
    _remove_replaced(before)
    return result


def build_cold(progress: Callable[[str], None] = QUIET) -> images.ImageBuildResult:
    """A build from nothing: a fresh, empty cache folder and ``force``."""
    saved = os.environ.get("LSH_CACHE_DIR")
    scratch = Path(tempfile.mkdtemp(prefix="lsh-cold-image-"))
    os.environ["LSH_CACHE_DIR"] = str(scratch)
    try:
        return _forced_build(progress)
    finally:
        if saved is None:
            os.environ.pop("LSH_CACHE_DIR", None)
        else:
            os.environ["LSH_CACHE_DIR"] = saved
        shutil.rmtree(scratch, ignore_errors=True)


def build_plugin_change() -> float:
    """Seconds to rebuild only the top image (what a plugin source change costs)."""
    tag = f"{images.IMAGE_REPO}:bench-plugin-layer"
    started = time.monotonic()
    images._build_final(images.base_tag(), tag, "bench")
    elapsed = time.monotonic() - started
    images._docker("rmi", tag, check=False)
    return elapsed


def start_to_ready(runs: int) -> tuple[list[float], list[float]]:
    starts, stops = [], []
    for _ in range(runs):
        backend = TestcontainersBackend(progress=QUIET)
        t = time.perf_counter()
        localstack = backend.start()
        starts.append(time.perf_counter() - t)
        assert localstack.client("sqs").list_queues() is not None
        t = time.perf_counter()
        backend.stop()
        stops.append(time.perf_counter() - t)
    return starts, stops


def bench_containers(cold: bool = True, runs: int = 5,
                     progress: Callable[[str], None] = QUIET) -> dict:
    """Image build (cold / from cached inputs / plugin change / skipped) and container start.

    ``cold=False`` leaves out the cold build (the slow, network-bound part: 1-2 minutes).
    Returns a dict of seconds (and a ratio or two); prints nothing unless ``progress`` does.
    """
    result: dict = {}
    images.build_image(progress=progress)  # whatever else happens, there is a current image
    if cold:
        r = build_cold(progress)
        result["image_build_cold_s"] = r.seconds
        result["image_build_cold_steps_s"] = r.steps
    r = _forced_build(progress)
    result["image_build_from_cached_inputs_s"] = r.seconds
    result["image_build_from_cached_inputs_steps_s"] = r.steps
    result["image_build_plugin_change_s"] = round(build_plugin_change(), 2)
    skipped = [images.build_image(progress=progress).seconds for _ in range(5)]
    result["image_build_skipped_s"] = round(sorted(skipped)[len(skipped) // 2], 3)
    size = images._docker("image", "inspect", "-f", "{{.Size}}", images.image_tag())
    result["image_size_mb"] = round(int(size.stdout.decode().strip()) / 1e6)
    starts, stops = start_to_ready(runs)
    result["testcontainers_start_to_ready"] = summary_ms(starts)
    result["testcontainers_stop"] = summary_ms(stops)
    if cold:
        result["ratio_cold_build_to_skipped"] = round(
            result["image_build_cold_s"] / max(result["image_build_skipped_s"], 1e-3))
    return result


def main() -> None:
    cold = "--no-cold" not in sys.argv
    result = {"command": "bench/containers_bench.py", **bench_containers(cold=cold,
                                                                          progress=print)}
    path = write_result("containers", result)
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
