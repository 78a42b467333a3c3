"""Unzipped function and layer code kept across LocalStack runs, keyed by the code's sha256.

Why: LocalStack unzips each function's and layer's code into the run's fresh temp folder when
the function is created. For the dependency layer (pydantic, Powertools: ~6 MB zipped, ~19 MB
unzipped) that took ~0.9 s of a cold deploy's first function (2 cores, loaded); the code is the
same from run to run.

How: the first run unzips the archive into ``<cache>/<sha256 hex>`` (into a temporary folder,
renamed into place, so a half-filled entry is never used), makes it read-only and writes a
manifest of every file's size and modification time beside it. Each run's code location (the
folder LocalStack's ``get_unzipped_code_location`` names) becomes a symlink to that entry.
AWS mounts ``/var/task`` and ``/opt`` read-only; the entry's files are read-only too, but root
ignores modes, so an entry whose files no longer match its manifest is discarded and unzipped
again. LocalStack's ``destroy_cached`` removes the run's folder with ``shutil.rmtree``, which
unlinks the symlink without following it.

``<cache>`` is ``$LSH_CODE_CACHE_DIR``, else ``$XDG_CACHE_HOME/lsh-lambda-code`` (the harness
points ``XDG_CACHE_HOME`` at a folder in its cache); ``LSH_CODE_CACHE=0`` turns it off
(LocalStack's own unzip per run). Entries are never evicted (only archives of 512 KiB or more
are cached: in practice the dependency layers).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import stat
import tempfile
import uuid
from pathlib import Path

LOG = logging.getLogger(__name__)
#: only archives this large are cached (``LSH_CODE_CACHE_MIN_BYTES``): a function's own small
#: zip unzips in milliseconds, and each edit of it would add an entry
MIN_BYTES = int(os.environ.get("LSH_CODE_CACHE_MIN_BYTES", str(512 * 1024)))
_SKIPPED = "__pycache__"  # bytecode a function's Python may write is not the code


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off or has no place."""
    if os.environ.get("LSH_CODE_CACHE", "1") == "0":
        return None
    given = os.environ.get("LSH_CODE_CACHE_DIR")
    if given:
        return Path(given)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "lsh-lambda-code" if xdg else None


def _manifest(root: Path) -> dict[str, list[int]]:
    """relative path -> [size, mtime_ns] of every file and folder under ``root``."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != _SKIPPED]
        for name in files + dirs:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                entries[os.path.relpath(path, root) + "/"] = [0, 0]  # dir mtimes move with pyc
            else:
                entries[os.path.relpath(path, root)] = [st.st_size, st.st_mtime_ns]
    return entries


def _read_only(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode & ~0o222)


def _sha256_hex(code_sha256: str) -> str | None:
    try:
        raw = base64.b64decode(code_sha256, validate=True)
    except (ValueError, TypeError):
        return None
    return raw.hex() if len(raw) == 32 else None


def _entry_intact(entry: Path, manifest_path: Path) -> bool:
    try:
        recorded = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return False
    return entry.is_dir() and _manifest(entry) == recorded


def _discard(entry: Path, manifest_path: Path) -> None:
    manifest_path.unlink(missing_ok=True)
    if entry.exists():
        trash = entry.with_name(f".trash-{uuid.uuid4().hex}")
        try:
            entry.rename(trash)  # out of the way at once; others may still run from it
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)


def _fill(code, cache: Path, key: str) -> Path:
    """Unzip ``code`` into ``cache/key`` (atomically) and return it."""
    from localstack.utils.archives import unzip

    entry, manifest_path = cache / key, cache / f"{key}.json"
    if entry.exists():  # its manifest was written before it was renamed into place
        if _entry_intact(entry, manifest_path):
            return entry
        LOG.warning("cached code %s was changed: unzipping it again", entry)
        _discard(entry, manifest_path)
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache))
    staging.chmod(0o755)  # as unzip's folders (mkdtemp's are 0700)
    try:
        with tempfile.NamedTemporaryFile() as archive:
            code._download_archive_to_file(archive)
            unzip(archive.name, str(staging))
        _read_only(staging)
        tmp_manifest = manifest_path.with_name(f".{manifest_path.name}.{uuid.uuid4().hex}")
        tmp_manifest.write_text(json.dumps(_manifest(staging)))
        tmp_manifest.replace(manifest_path)  # same content whoever writes it
        try:
            staging.rename(entry)
        except OSError:  # another run filled it meanwhile
            if not entry.is_dir():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return entry


def prepare_for_execution(code) -> None:
    """LocalStack's ``code.prepare_for_execution()``, with the unzipped code taken from the
    cache (filled on first use) when the cache is on and the code is an S3 archive."""
    cache = cache_dir()
    key = _sha256_hex(getattr(code, "code_sha256", "") or "")
    if (cache is None or key is None or code.is_hot_reloading()
            or not hasattr(code, "_download_archive_to_file")
            or (getattr(code, "code_size", 0) or 0) < MIN_BYTES):
        code.prepare_for_execution()
        return
    target = code.get_unzipped_code_location()
    with code._disk_lock:
        if target.exists() or target.is_symlink():
            return
        try:
            entry = _fill(code, cache, key)
        except Exception as e:  # a cache that cannot be used must not fail the function
            LOG.warning("code cache %s not usable (%s): unzipping into the run", cache, e)
            code.prepare_for_execution()
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(entry, target_is_directory=True)
