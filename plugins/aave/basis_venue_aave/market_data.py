"""Aave's live market data (the ``live_market_data`` hook): the market's contracts read through the node.

Settings (``venue_config.aave``): ``rpc_url``; ``deployment`` ("mainnet" | a JSON path) or the option
``deployment_table`` (a dict, as the live backend takes it). Per step ONE JSON-RPC batch at the latest block: for
every reserve ``Pool.getReserveNormalizedIncome`` / ``getReserveNormalizedVariableDebt`` (the indices accrued to
the block), ``PoolDataProvider.getReserveData`` (current rates) and ``AaveOracle.getAssetPrice``, plus the node's
priority fee. Series, as of the block's time (the backtest's names and units):

- ``aave:<asset>``: ``liquidity_index``, ``variable_borrow_index`` (rays / 1e27), ``liquidity_rate``,
  ``variable_borrow_rate`` (APR, rays / 1e27), ``price`` (USD, the oracle's 8 decimals);
- ``oracle:ETH/USD`` (``price``: the oracle's WETH price) and ``oracle:BTC/USD`` (WBTC) when listed;
- ``gas``: ``base_fee_gwei`` (the block's), ``priority_fee_gwei`` (the node's suggestion), ``gas_price_gwei``.
"""

from __future__ import annotations

from typing import Any

from basis_core.live.chain_reads import ChainReader, chain_reader, from_units, gas_value, ray
from basis_core.live.onchain import abi_function as _fn

#: oracle series fed by a reserve's price
ORACLE_SERIES = {"WETH": "oracle:ETH/USD", "WBTC": "oracle:BTC/USD"}


POOL_READS_ABI = [_fn("getReserveNormalizedIncome", ["address asset"], ["uint256"]),
                  _fn("getReserveNormalizedVariableDebt", ["address asset"], ["uint256"]),
                  _fn("ADDRESSES_PROVIDER", [], ["address"])]
DATA_PROVIDER_READS_ABI = [_fn("getReserveData", ["address asset"], [
    "uint256 unbacked", "uint256 accruedToTreasuryScaled", "uint256 totalAToken", "uint256 totalStableDebt",
    "uint256 totalVariableDebt", "uint256 liquidityRate", "uint256 variableBorrowRate", "uint256 stableBorrowRate",
    "uint256 averageStableBorrowRate", "uint256 liquidityIndex", "uint256 variableBorrowIndex",
    "uint40 lastUpdateTimestamp"])]
ORACLE_READS_ABI = [_fn("getAssetPrice", ["address asset"], ["uint256"])]
PROVIDER_READS_ABI = [_fn("getPriceOracle", [], ["address"]), _fn("getPoolDataProvider", [], ["address"])]


def _market(context: Any) -> dict[str, Any]:
    """Contracts and reserves of the configured market (resolved once per provider)."""
    m: dict[str, Any] | None = context.state.get("market")
    if m is None:
        from basis_venue_aave.deployment import load_table

        s = context.settings
        table = load_table(s.options.get("deployment_table") or s.deployment)
        reader = chain_reader(context)
        c = table["contracts"]
        pool = reader.contract(c["Pool"], POOL_READS_ABI)
        oracle, data = c.get("Oracle"), c.get("PoolDataProvider")
        if oracle is None or data is None:
            addr = c.get("PoolAddressesProvider") or pool.functions.ADDRESSES_PROVIDER().call()
            provider = reader.contract(addr, PROVIDER_READS_ABI).functions
            oracle = oracle or provider.getPriceOracle().call()
            data = data or provider.getPoolDataProvider().call()
        m = context.state["market"] = {
            "pool": pool, "oracle": reader.contract(oracle, ORACLE_READS_ABI),
            "data": reader.contract(data, DATA_PROVIDER_READS_ABI),
            "reserves": {sym: reader.w3.to_checksum_address(a) for sym, a in table["tokens"].items()}}
    return m


def read_market_data(keys: frozenset[str] | None, context: Any) -> dict[str, Any]:
    """The hook's body: ``{series name: LiveValue}`` (see the module docstring)."""
    from basis_core.live.market_data import LiveValue

    m = _market(context)
    plan = context.state.get("plan")
    if plan is None:  # the calls of every step, prepared once (keys are fixed for a provider)
        reserves = [s for s in m["reserves"] if keys is None or f"aave:{s}" in keys or ORACLE_SERIES.get(s) in keys]
        calls = []
        for sym in reserves:
            addr = m["reserves"][sym]
            calls += [ChainReader.call(f) for f in (
                m["pool"].functions.getReserveNormalizedIncome(addr),
                m["pool"].functions.getReserveNormalizedVariableDebt(addr),
                m["data"].functions.getReserveData(addr), m["oracle"].functions.getAssetPrice(addr))]
        plan = context.state["plan"] = (reserves, calls)
    reserves, calls = plan
    block, results, prio = chain_reader(context).read(calls, priority_fee=keys is None or "gas" in keys)
    out: dict[str, Any] = {}
    for i, sym in enumerate(reserves):
        income, debt, data, price = results[4 * i: 4 * i + 4]
        px = from_units(price, 8)
        out[f"aave:{sym}"] = LiveValue({"liquidity_index": ray(income), "variable_borrow_index": ray(debt),
                                        "liquidity_rate": ray(data[5]), "variable_borrow_rate": ray(data[6]),
                                        "price": px}, block.time_ns)
        if sym in ORACLE_SERIES:
            out[ORACLE_SERIES[sym]] = LiveValue({"price": px}, block.time_ns)
    if prio is not None:
        out["gas"] = gas_value(block, prio)
    return out
