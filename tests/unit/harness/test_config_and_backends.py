import pytest

from harness.cli import build_parser
from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.localstack import EmbeddedBackend, ExternalBackend, create_backend


def test_env_vars_set_the_defaults(monkeypatch):
    monkeypatch.setenv("LSH_BACKEND", "external")
    monkeypatch.setenv("LSH_ENDPOINT", "http://127.0.0.1:4566")
    monkeypatch.setenv("LSH_PORT", "4599")
    cfg = HarnessConfig.from_env()
    assert (cfg.backend, cfg.endpoint, cfg.port) == ("external", "http://127.0.0.1:4566", 4599)


@pytest.mark.parametrize("value, on", [(None, True), ("1", True), ("0", False), ("off", False),
                                       (" False ", False), ("yes", True)])
def test_change_feed_is_on_unless_turned_off(monkeypatch, value, on):
    if value is None:
        monkeypatch.delenv("LSH_CHANGE_FEED", raising=False)
    else:
        monkeypatch.setenv("LSH_CHANGE_FEED", value)
    assert HarnessConfig.from_env().change_feed is on


def test_options_win_over_env_vars(monkeypatch):
    monkeypatch.setenv("LSH_BACKEND", "external")
    assert HarnessConfig.from_env(backend="embedded", port=None).backend == "embedded"


def test_endpoint_falls_back_to_aws_endpoint_url(monkeypatch):
    monkeypatch.delenv("LSH_ENDPOINT", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1234")
    assert HarnessConfig.from_env().endpoint == "http://127.0.0.1:1234"


def test_create_backend_by_name():
    assert isinstance(create_backend("embedded"), EmbeddedBackend)
    assert isinstance(create_backend("external", endpoint_url="http://x"), ExternalBackend)


def test_unknown_backend_names_the_choices():
    with pytest.raises(HarnessError, match="unknown LocalStack backend 'dockr'.*embedded"):
        create_backend("dockr")


def test_external_backend_without_any_endpoint_says_how(monkeypatch):
    monkeypatch.delenv("LSH_ENDPOINT", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with pytest.raises(HarnessError, match="set LSH_ENDPOINT"):
        ExternalBackend().start()


def test_cli_up_defaults_to_port_4566_unless_lsh_port_says(monkeypatch):
    from harness.cli import _backend_from_args

    args = build_parser().parse_args(["up", "--no-deploy"])
    assert args.func.__name__ == "cmd_up"
    monkeypatch.delenv("LSH_PORT", raising=False)
    assert _backend_from_args(args, default_port=4566).port == 4566
    monkeypatch.setenv("LSH_PORT", "4599")
    assert _backend_from_args(args, default_port=4566).port == 4599
    args = build_parser().parse_args(["up", "--port", "4600"])
    assert _backend_from_args(args, default_port=4566).port == 4600


def test_cli_up_without_a_cdk_json_names_the_fix(tmp_path, capsys):
    from harness.cli import main

    assert main(["up", "--app", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"no cdk.json in {tmp_path}" in err and "--no-deploy" in err
