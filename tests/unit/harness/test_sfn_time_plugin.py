"""The pure-Python parts of lsh_localstack_plugins.sfn_time and after_import (no LocalStack):
the scale setting, the scaled sleep, the scaled Wait with an early stop, patches after import."""

from __future__ import annotations

import sys
import threading
import time
import types

import pytest


def test_the_scale_comes_from_the_setting_and_a_bad_one_says_the_fix(lsh_plugin, monkeypatch):
    sfn_time = lsh_plugin("sfn_time")
    monkeypatch.delenv("LSH_SFN_TIME_SCALE", raising=False)
    assert sfn_time._initial_scale() == 1.0
    monkeypatch.setenv("LSH_SFN_TIME_SCALE", "0.001")
    assert sfn_time._initial_scale() == 0.001
    for bad, message in (("fast", "is not a number"), ("0", "must be > 0"), ("-2", "must be > 0")):
        monkeypatch.setenv("LSH_SFN_TIME_SCALE", bad)
        with pytest.raises(ValueError, match=f"LSH_SFN_TIME_SCALE='{bad}' {message}"):
            sfn_time._initial_scale()


def test_the_retrier_sleep_is_scaled_and_the_rest_of_time_is_untouched(lsh_plugin):
    sfn_time = lsh_plugin("sfn_time")
    scale = sfn_time.TimeScale(0.001)
    scaled = sfn_time._ScaledTime(scale)
    started = time.monotonic()
    scaled.sleep(2)  # 2 ms
    assert time.monotonic() - started < 0.5
    assert scaled.monotonic is time.monotonic
    assert scale.set(1.0) == 0.001 and scale.scaled(3) == 3.0
    with pytest.raises(ValueError):
        scale.set(0)


def test_a_scaled_wait_ends_early_when_the_execution_stops(lsh_plugin):
    sfn_time = lsh_plugin("sfn_time")
    module = types.ModuleType("fake_wait_function")

    class WaitFunction:
        pass

    module.WaitFunction = WaitFunction
    env = types.SimpleNamespace(program_state_event=threading.Event(), running=True)
    env.is_running = lambda: env.running
    target = "localstack.services.stepfunctions.asl.component.state.state_wait.wait_function"
    parent = types.ModuleType(target)  # LocalStack is not installed here: stand-ins
    parent.wait_function = module
    sys.modules[target], sys.modules[target + ".wait_function"] = parent, module
    try:
        sfn_time.scale_wait_states(sfn_time.TimeScale(0.01))
        started = time.monotonic()
        WaitFunction()._wait_interval(env, 20)  # 0.2 s
        assert 0.19 <= time.monotonic() - started < 1.0

        def stop():
            env.running = False
            env.program_state_event.set()

        threading.Timer(0.1, stop).start()
        started = time.monotonic()
        WaitFunction()._wait_interval(env, 3600)  # 36 s, stopped after 0.1 s
        assert time.monotonic() - started < 1.0
    finally:
        del sys.modules[target + ".wait_function"], sys.modules[target]


def test_a_patch_runs_right_after_its_module_is_first_imported(lsh_plugin, tmp_path, monkeypatch):
    after_import = lsh_plugin("after_import")
    (tmp_path / "lsh_watched_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    finders = list(sys.meta_path)
    try:
        after_import.after_import({"lsh_watched_module": lambda: seen.append(
            sys.modules["lsh_watched_module"].VALUE)})
        assert seen == []
        import lsh_watched_module  # noqa: F401
        assert seen == [1]
        after_import.after_import({"lsh_watched_module": lambda: seen.append("again")})
        assert seen == [1, "again"]  # already imported: patched at once
    finally:
        sys.meta_path[:] = finders
        sys.modules.pop("lsh_watched_module", None)
