"""Deployment tables and pool ids: every mainnet pool address equals its CREATE2 derivation from the table's
factory and the init-code hash of the published pool bytecode (npm artifacts), computed here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from basis_venue_uniswap.deployment import load_table, mainnet_token_order, parse_pool_id

from basis_core.errors import ConfigError, InstructionError
from basis_core.testing.anvil import node_modules


def _keccak(data: bytes) -> bytes:
    from eth_utils import keccak

    return bytes(keccak(data))


def _create2(factory: str, salt: bytes, init_hash: bytes) -> str:
    from eth_utils import to_checksum_address

    return str(to_checksum_address(_keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + init_hash)[12:]))


def _init_hash(relpath: str) -> bytes:
    try:
        data = json.loads((node_modules() / relpath).read_text())
    except FileNotFoundError:
        pytest.skip("npm artifacts not installed")
    code = data["bytecode"] if isinstance(data.get("bytecode"), str) else data["evm"]["bytecode"]["object"]
    return _keccak(bytes.fromhex(code.removeprefix("0x")))


def test_mainnet_pool_addresses_are_their_create2_derivations() -> None:
    from eth_abi import encode

    t = load_table("mainnet")
    v2_hash = _init_hash("@uniswap/v2-core/build/UniswapV2Pair.json")
    v3_hash = _init_hash("@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json")
    for pair, addr in t["v2_pairs"].items():
        a, b = (t["tokens"][s] for s in mainnet_token_order(tuple(pair.split("/"))))  # type: ignore[arg-type]
        salt = _keccak(bytes.fromhex(a[2:]) + bytes.fromhex(b[2:]))
        assert _create2(t["contracts"]["UniswapV2Factory"], salt, v2_hash) == addr, pair
    for key, addr in t["v3_pools"].items():
        pair, fee = key.split(":")
        a, b = (t["tokens"][s] for s in mainnet_token_order(tuple(pair.split("/"))))  # type: ignore[arg-type]
        salt = _keccak(encode(["address", "address", "uint24"], [a, b, int(fee)]))
        assert _create2(t["contracts"]["UniswapV3Factory"], salt, v3_hash) == addr, key
    assert mainnet_token_order(("WETH", "USDC")) == ("USDC", "WETH")


def test_tables_load_from_names_paths_and_dicts(tmp_path: Path) -> None:
    local = load_table("local")
    path = tmp_path / "t.json"
    path.write_text(json.dumps(local))
    assert load_table(str(path)) == local == load_table(local)
    with pytest.raises(ConfigError):
        load_table(str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError):
        load_table({"tokens": {"X": "0x0"}, "contracts": {}})  # no decimals
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError):
        load_table(str(tmp_path / "bad.json"))


def test_pool_ids() -> None:
    p = parse_pool_id("v3:WETH/USDC:500")
    assert (p.kind, p.a, p.b, p.fee, p.swapped().canonical) == ("v3", "WETH", "USDC", 500, "v3:USDC/WETH:500")
    assert parse_pool_id("v2:WETH/DAI").canonical == "v2:WETH/DAI"
    for bad in ("v4:WETH/USDC", "v3:WETH/USDC", "v2:WETH/USDC:30", "v2:WETH", "v3:WETH/WETH:500"):
        with pytest.raises(InstructionError) as e:
            parse_pool_id(bad)
        assert e.value.field == "pool"
