"""LocalStack in Docker, with no container registry: a locally built image and a backend for it.

- :mod:`.image`: builds ``lsh-localstack:4.8.1-<hash>`` from Debian packages and PyPI only
  (``lsh image build``); skipped when an image with the same recipe hash exists.
- :mod:`.container_backend`: backend ``testcontainers`` (LocalStack started with
  testcontainers-python from that image, or from ``LSH_IMAGE``).
- :mod:`.docker_check`: a clear error when Docker is missing or its daemon is not running.

Nothing here imports ``docker`` or ``testcontainers`` at import time.
"""

from harness.localstack.containers.docker_check import DockerUnavailable
from harness.localstack.containers.image import ImageBuildError, build_image, ensure_image

__all__ = ["DockerUnavailable", "ImageBuildError", "build_image", "ensure_image"]
