"""The sweep removes what dead runs left (run folders, stale deploy locks), never a live run's
files or a kept log folder."""

from __future__ import annotations

import json
import os
import time

from harness.localstack import leftovers


def _run_dir(root, run_id, owner_pid=None, start="1"):
    path = root / f"lsh-{run_id}-abcd1234"
    (path / "tmp").mkdir(parents=True)
    if owner_pid is not None:
        (path / leftovers.OWNER_FILE).write_text(json.dumps({"pid": owner_pid, "start": start}))
    return path


def test_sweep_removes_dead_runs_and_stale_locks_only(tmp_path):
    dead = _run_dir(tmp_path, "0123456789ab", owner_pid=2 ** 22 + 11)  # no such pid
    recycled = _run_dir(tmp_path, "0123456789ac", owner_pid=os.getpid(), start="-1")
    no_owner = _run_dir(tmp_path, "0123456789ad")  # older layout: dead when no process carries it
    alive = tmp_path / "lsh-0123456789ae-x"
    alive.mkdir()
    leftovers.write_owner(alive)
    kept_logs = tmp_path / "lsh-logs-20261202-030000-0123456789ab"
    kept_logs.mkdir()
    expired_logs = tmp_path / "lsh-logs-20261101-030000-0123456789ab"
    expired_logs.mkdir()
    week_ago = time.time() - leftovers.KEPT_LOG_DAYS * 86400 - 60
    os.utime(expired_logs, (week_ago, week_ago))
    stale_lock, fresh_lock = tmp_path / "lsh-deploy-aaa.lock", tmp_path / "lsh-deploy-bbb.lock"
    stale_lock.write_text("")
    fresh_lock.write_text("")
    old = time.time() - leftovers.STALE_LOCK_SECONDS - 60
    os.utime(stale_lock, (old, old))
    other = tmp_path / "lsh-not-ours"
    other.mkdir()

    removed = set(leftovers.sweep(tmp_path))

    assert removed == {dead, recycled, no_owner, stale_lock, expired_logs}
    assert alive.is_dir() and kept_logs.is_dir() and fresh_lock.exists() and other.is_dir()


def test_only_the_newest_kept_log_folders_stay(tmp_path):
    folders = []
    for n in range(leftovers.KEPT_LOG_MAX + 3):
        folder = tmp_path / f"lsh-logs-20261202-0300{n:02d}-0123456789ab"
        folder.mkdir()
        stamp = time.time() - 1000 + n
        os.utime(folder, (stamp, stamp))
        folders.append(folder)
    live = tmp_path / "lsh-0123456789ff-live"  # the oldest folder's run is still going
    live.mkdir()
    leftovers.write_owner(live)
    folders[0] = folders[0].rename(tmp_path / "lsh-logs-20261202-030000-0123456789ff")
    assert set(leftovers.sweep(tmp_path)) == set(folders[1:3])
    assert folders[0].is_dir() and all(f.is_dir() for f in folders[3:])


def test_a_held_lock_is_not_swept(tmp_path):
    import fcntl

    lock = tmp_path / "lsh-deploy-ccc.lock"
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        old = time.time() - leftovers.STALE_LOCK_SECONDS - 60
        os.utime(lock, (old, old))
        assert leftovers.sweep(tmp_path) == []
    assert lock.exists()


def test_deploy_lock_is_one_per_endpoint():
    a = leftovers.deploy_lock_path("http://127.0.0.1:4566")
    assert a == leftovers.deploy_lock_path("http://127.0.0.1:4566")
    assert a != leftovers.deploy_lock_path("http://127.0.0.1:4567")
    assert a.name.startswith("lsh-deploy-") and a.name.endswith(".lock")
