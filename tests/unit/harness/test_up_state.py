"""Reusing a running ``lsh up``: on by default, off with LSH_REUSE_UP=0 / --lsh-fresh, and only
when the up runs what the session would start (``harness.up_state``)."""

from __future__ import annotations

import dataclasses

import pytest

from harness import up_state
from harness.config import HARNESS_VARS, HarnessConfig


@pytest.mark.parametrize("env, reuse", [({}, True), ({"LSH_REUSE_UP": "1"}, True),
                                        ({"LSH_REUSE_UP": "0"}, False),
                                        ({"LSH_REUSE_UP": "off"}, False)])
def test_reuse_is_the_default_and_lsh_reuse_up_0_turns_it_off(env, reuse):
    assert HarnessConfig.from_env(env).reuse_up is reuse


def test_the_fresh_option_wins_over_the_environment():
    assert HarnessConfig.from_env({"LSH_REUSE_UP": "1"}, reuse_up=False).reuse_up is False


def test_every_harness_setting_is_left_out_of_the_launch_signature():
    named = {f"LSH_{f.name.upper()}" for f in dataclasses.fields(HarnessConfig)}
    assert named <= HARNESS_VARS, named - HARNESS_VARS


def test_the_signature_holds_plugin_settings_and_not_harness_ones(monkeypatch):
    monkeypatch.setenv("LSH_ESM_PUSH", "0")
    monkeypatch.setenv("LSH_REUSE_UP", "1")
    monkeypatch.setenv("LSH_PORT", "4566")
    monkeypatch.setenv("LS_LOG", "debug")
    settings = up_state.launch_signature("embedded")["settings"]
    assert settings["LSH_ESM_PUSH"] == "0" and settings["LS_LOG"] == "debug"
    assert "LSH_REUSE_UP" not in settings and "LSH_PORT" not in settings
    assert settings["LAMBDA_RUNTIME_EXECUTOR"] == "process"  # the harness's defaults too


def test_an_up_with_the_same_signature_is_reusable():
    wanted = up_state.launch_signature("embedded")
    assert up_state.why_not_reusable({"launch": wanted}, wanted) is None


@pytest.mark.parametrize("change, why", [
    ({"backend": "testcontainers"}, "its backend differs (testcontainers there, embedded here)"),
    ({"plugins": "0123456789ab"}, "the LocalStack plugins' source (changed since it started) "
                                  "differs (0123456789ab there, "),
    ({"settings": {"LSH_ESM_PUSH": "0"}}, "its LSH_ESM_PUSH='0' differs from this session's "
                                          "LSH_ESM_PUSH=(unset)"),
])
def test_the_first_difference_is_named_in_one_line(change, why):
    wanted = up_state.launch_signature("embedded")
    wanted["settings"].pop("LSH_ESM_PUSH", None)
    theirs = {**wanted, **change}
    if "settings" in change:
        theirs["settings"] = {**wanted["settings"], **change["settings"]}
    reason = up_state.why_not_reusable({"launch": theirs}, wanted)
    assert reason is not None and reason.startswith(why) and "\n" not in reason


def test_an_up_json_of_an_older_harness_is_not_reused():
    reason = up_state.why_not_reusable({"pid": 1, "endpoint_url": "http://127.0.0.1:1"},
                                       up_state.launch_signature("embedded"))
    assert reason == "its up.json records no launch settings (an `lsh up` of an older harness)"


def test_a_private_cache_links_the_shared_one_but_not_its_up_json(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    (shared / "cdk-out").mkdir(parents=True)
    (shared / "up.json").write_text("{}")
    monkeypatch.setenv("LSH_CACHE_DIR", str(shared))
    monkeypatch.setattr(up_state.venvs, "localstack_venv", lambda: shared / "ls")
    monkeypatch.setattr(up_state.venvs, "function_venv", lambda: shared / "fn")
    own = up_state.private_cache(tmp_path / "own")
    assert (own / "cdk-out").resolve() == shared / "cdk-out"
    assert not (own / "up.json").exists()
    monkeypatch.setenv("LSH_CACHE_DIR", str(own))
    assert up_state.state_path() == own / "up.json" and up_state.running() is None
