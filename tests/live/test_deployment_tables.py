"""read_deployment: the one reader of venues' deployment settings (package data, a mapping, a JSON file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from basis_core.errors import ConfigError
from basis_core.live.onchain import read_deployment


def test_a_packaged_name_reads_the_package_data() -> None:
    raw, where = read_deployment(None, "basis_venue_aave")
    assert where == "mainnet"
    assert raw["contracts"]["Pool"].lower() == "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2"


def test_a_mapping_is_returned_as_given() -> None:
    table = {"contracts": {"Pool": "0x1"}}
    assert read_deployment(table, "basis_venue_aave") == (table, "table")


def test_a_json_file(tmp_path: Path) -> None:
    f = tmp_path / "local.json"
    f.write_text(json.dumps({"tokens": {"WETH": "0x2"}}))
    assert read_deployment(str(f), "basis_venue_uniswap", ("mainnet", "local")) == ({"tokens": {"WETH": "0x2"}}, str(f))


def test_a_missing_file_names_the_accepted_forms(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither 'mainnet', 'local' nor an existing JSON file"):
        read_deployment(str(tmp_path / "nope.json"), "basis_venue_curve", ("mainnet", "local"))


def test_bad_json_is_a_config_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.json"
    f.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_deployment(str(f), "basis_venue_lido")
