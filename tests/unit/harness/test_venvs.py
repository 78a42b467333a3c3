from pathlib import Path

from harness.localstack import venvs


def _fake_venv(root: Path) -> Path:
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    return root


def test_cache_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LSH_CACHE_DIR", str(tmp_path / "c"))
    assert venvs.cache_root() == tmp_path / "c"
    assert venvs.localstack_venv_path().parent == tmp_path / "c"
    monkeypatch.delenv("LSH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert venvs.cache_root() == tmp_path / "x" / "localstack-e2e-harness"


def test_venv_paths_change_with_the_pins(monkeypatch):
    before = venvs.function_venv_path()
    monkeypatch.setattr(venvs, "FUNCTION_REQUIREMENTS", ("awslambdaric==9.9.9", "boto3==1.0"))
    assert venvs.function_venv_path() != before


def test_plugins_get_a_folder_of_their_own_with_all_entry_points(tmp_path):
    venv = _fake_venv(tmp_path / "venv")
    folder = venvs.plugins_path(venv)
    assert folder == venv / "lsh-plugins" / venvs.plugins_digest()
    assert (folder / "lsh_localstack_plugins" / "dynamodb.py").is_file()
    entry_points = (folder / "lsh_localstack_plugins-0.0.0.dist-info" / "entry_points.txt").read_text()
    assert "dynamodb:moto = lsh_localstack_plugins.dynamodb:dynamodb_moto" in entry_points
    for part in (venvs.PLUGIN_SRC / "entry_points.d").glob("*.txt"):
        for line in part.read_text().splitlines():
            assert line.strip() in entry_points
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging left


def test_plugins_are_not_rewritten_when_unchanged(tmp_path):
    venv = _fake_venv(tmp_path / "venv")
    folder = venvs.plugins_path(venv)
    (folder / "lsh_localstack_plugins" / "extra.py").write_text("# left alone")
    assert venvs.plugins_path(venv) == folder
    assert (folder / "lsh_localstack_plugins" / "extra.py").exists()


def test_another_source_version_gets_another_folder_and_the_old_copy_goes(tmp_path, monkeypatch):
    """Two versions share a venv without touching each other's files; the copy earlier harness
    versions put into site-packages is removed (its entry points would load next to ours)."""
    venv = _fake_venv(tmp_path / "venv")
    site = venvs.site_packages(venv)
    venvs.write_plugins(site)  # as earlier versions installed them
    first = venvs.plugins_path(venv)
    assert not (site / "lsh_localstack_plugins").exists()
    assert not (site / "lsh_localstack_plugins-0.0.0.dist-info").exists()
    monkeypatch.setattr(venvs, "plugins_digest", lambda: "another-version")
    second = venvs.plugins_path(venv)
    assert second != first and first.is_dir() and second.is_dir()


def test_folders_of_versions_unused_for_a_week_are_removed(tmp_path, monkeypatch):
    import os
    import time

    venv = _fake_venv(tmp_path / "venv")
    old = venvs.plugins_path(venv)
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(old, (week_ago, week_ago))
    monkeypatch.setattr(venvs, "plugins_digest", lambda: "newer")
    venvs.plugins_path(venv)
    assert not old.exists()
