"""Upload a stack's file assets (from ``<Stack>.assets.json``) to the bootstrap bucket.

Object keys carry the asset's content hash, so an asset that is already there is unchanged and
is skipped: a redeploy uploads only what changed.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def substitute(text: str, account: str, region: str) -> str:
    return (text.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
            .replace("${AWS::Partition}", "aws"))


def zip_directory(path: Path) -> bytes:
    """A deterministic zip of a folder (sorted names, fixed dates, modes kept)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = Path(root) / name
                info = zipfile.ZipInfo(str(full.relative_to(path)), ZIP_DATE)
                info.external_attr = (full.stat().st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, full.read_bytes())
    return buf.getvalue()


def cached_zip(path: Path, key: str) -> bytes:
    """The zip of an asset folder, kept on disk by its key (CDK puts the content hash in it), so a
    fresh LocalStack gets big assets (a 13 MB dependency layer) without zipping them again."""
    from harness.localstack.venvs import cache_root

    cached = cache_root() / "asset-zips" / key.replace("/", "_")
    if cached.is_file():
        return cached.read_bytes()
    body = zip_directory(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(body)
    partial.replace(cached)
    return body


def upload_file_assets(assets_file: Path, s3, account: str, region: str) -> dict[str, int]:
    """Upload missing assets; return counts of ``uploaded`` and ``skipped``."""
    manifest = json.loads(assets_file.read_text())
    counts = {"uploaded": 0, "skipped": 0}
    known_buckets: set[str] = set()
    for asset in manifest.get("files", {}).values():
        source = asset["source"]
        for dest in asset["destinations"].values():
            bucket = substitute(dest["bucketName"], account, region)
            key = substitute(dest["objectKey"], account, region)
            if bucket not in known_buckets:
                ensure_bucket(s3, bucket, region)
                known_buckets.add(bucket)
            if object_exists(s3, bucket, key):
                counts["skipped"] += 1
                continue
            path = assets_file.parent / source["path"]
            if source.get("packaging") == "zip" and path.is_dir():
                body = cached_zip(path, key)
            else:
                body = path.read_bytes()
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            counts["uploaded"] += 1
    if manifest.get("dockerImages"):
        raise NotImplementedError(
            f"{assets_file.name} has Docker image assets; they cannot be built or pushed offline. "
            "Use file assets (Code.from_asset on a folder) instead.")
    return counts


def ensure_bucket(s3, bucket: str, region: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        extra = {} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **extra)


def object_exists(s3, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False
