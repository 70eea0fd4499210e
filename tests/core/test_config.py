"""Configuration: environment, YAML / TOML files, SecretStr credentials."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.config import load_settings
from basis_core.errors import ConfigError

SECRET = "s3cr3t-value-never-shown"


def test_execution_mode_defaults_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASIS_EXECUTION_MODE", "live")
    assert load_settings().execution_mode == "live"
    monkeypatch.setenv("BASIS_EXECUTION_MODE", "sideways")
    with pytest.raises(ConfigError, match="execution_mode"):
        load_settings()


def test_venue_credentials_from_the_environment_are_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASIS_VENUE_CONFIG__BINANCE__API_SECRET", SECRET)
    s = load_settings()
    assert s.venue("binance").api_secret.get_secret_value() == SECRET  # type: ignore[union-attr]
    assert SECRET not in repr(s) and SECRET not in str(s.venue("binance")) and SECRET not in repr(s.venue("binance"))


def test_yaml_and_toml_files(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text("execution_mode: backtest\nvenues: [paper]\nmax_notional: 5000\n")
    t = tmp_path / "c.toml"
    t.write_text('execution_mode = "backtest"\nvenues = ["paper2"]\n[venue_config.paper2]\nbase_url = "http://127.0.0.1:1"\n')
    assert load_settings(y).venues == ["paper"]
    st = load_settings(t)
    assert st.venues == ["paper2"] and st.venue("paper2").base_url == "http://127.0.0.1:1"


def test_secrets_file_is_merged_per_venue(tmp_path: Path) -> None:
    sec = tmp_path / "secrets.yaml"
    sec.write_text(f"binance:\n  api_key: k1\n  api_secret: {SECRET}\n")
    s = load_settings({"secrets_file": str(sec)})
    v = s.venue("binance")
    assert v.api_key.get_secret_value() == "k1"  # type: ignore[union-attr]
    assert SECRET not in repr(v)


def test_bad_setting_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="max_retry_attempts"):
        load_settings({"max_retry_attempts": 0})


def test_secrets_never_reach_logs_or_the_manager_repr(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    m = ExecutionInterfaceManager({"venues": ["paper"], "venue_config": {"paper": {"api_secret": SECRET}}})
    assert SECRET not in repr(m) and SECRET not in repr(m.settings) and SECRET not in caplog.text
    assert SECRET not in repr(m.venue("paper").settings)
