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


def test_plugins_are_copied_with_all_entry_points(tmp_path):
    venv = _fake_venv(tmp_path / "venv")
    stale_cache = venvs.plux_cache_dir(venv) / "plux"
    stale_cache.mkdir(parents=True)
    venvs.install_plugins(venv)
    site = venvs.site_packages(venv)
    assert (site / "lsh_localstack_plugins" / "dynamodb.py").is_file()
    entry_points = (site / "lsh_localstack_plugins-0.0.0.dist-info" / "entry_points.txt").read_text()
    assert "dynamodb:moto = lsh_localstack_plugins.dynamodb:dynamodb_moto" in entry_points
    for part in (venvs.PLUGIN_SRC / "entry_points.d").glob("*.txt"):
        for line in part.read_text().splitlines():
            assert line.strip() in entry_points
    assert not stale_cache.exists(), "plux's entry point cache must be cleared"


def test_plugins_are_not_recopied_when_unchanged(tmp_path):
    venv = _fake_venv(tmp_path / "venv")
    venvs.install_plugins(venv)
    marker = venv / ".lsh-plugins-hash"
    written = marker.stat().st_mtime_ns
    package = venvs.site_packages(venv) / "lsh_localstack_plugins"
    (package / "extra.py").write_text("# left alone when the source is unchanged")
    venvs.install_plugins(venv)
    assert (package / "extra.py").exists() and marker.stat().st_mtime_ns == written
