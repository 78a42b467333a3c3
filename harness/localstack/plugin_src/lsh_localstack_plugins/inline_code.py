"""Inline Lambda code (CloudFormation ``Code.ZipFile``, CDK's ``Code.from_inline``) without the
``zip`` command.

Why: on Debian, LocalStack 4.8.1 zips inline code by running ``zip -r`` (``localstack.utils.
archives.create_zip_file_cli``), so on a machine or image without the ``zip`` package creating
such a function fails with "[Errno 2] No such file or directory: 'zip'". CDK's own S3
notifications handler is inline Python: ``bucket.add_event_notification`` broke that way in our
Docker image. Where ``zip`` is missing, the same archive is written with Python's ``zipfile``
(LocalStack's own ``create_zip_file_python``, which it uses off Debian).
"""

from __future__ import annotations

import shutil
import sys


def apply() -> None:
    if shutil.which("zip"):
        return
    from localstack.utils import archives

    def create_zip_file_without_cli(source_path, base_dir, zip_file) -> None:
        # zip -r <zip_file> <source> in base_dir: base_dir holds exactly the source's files
        archives.create_zip_file_python(base_dir=base_dir, zip_file=zip_file)

    archives.create_zip_file_cli = create_zip_file_without_cli
    testutil = sys.modules.get("localstack.utils.testutil")  # imported the name already
    if testutil is not None:
        testutil.create_zip_file_cli = create_zip_file_without_cli
