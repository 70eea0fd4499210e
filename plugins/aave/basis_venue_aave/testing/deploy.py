"""Deploy a real Aave v3 market (protocol v3.0.2, npm ``@aave/core-v3`` 1.19.3) on a local node.

Everything comes from the package's published artifacts; no own Solidity. Steps (VENUE-NOTES "Aave v3"):

1. PoolAddressesProvider(marketId, deployer) -> ``setACLAdmin`` -> ACLManager -> ``setACLManager`` ->
   ``addPoolAdmin(deployer)``.
2. Logic libraries (SupplyLogic, BorrowLogic, LiquidationLogic, EModeLogic, BridgeLogic, PoolLogic,
   FlashLoanLogic linked to BorrowLogic, ConfiguratorLogic), linked at their ``linkReferences``.
3. Pool implementation (linked) -> ``setPoolImpl`` (the provider makes the proxy and initialises it);
   PoolConfigurator implementation (linked) -> ``setPoolConfiguratorImpl``.
4. Tokens: WETH9Mocked for WETH, MintableERC20 for the others (USDC/USDT 6 decimals, wstETH/weETH 18).
5. Prices: one ``MockAggregator`` (8 decimals) per asset -> AaveOracle (base currency USD, unit 1e8)
   -> ``setPriceOracle``. MockAggregator has no setter: :meth:`AaveWorld.set_price` deploys a new
   MockAggregator with the new answer and points the oracle at it with ``setAssetSources``.
6. AaveProtocolDataProvider -> ``setPoolDataProvider``.
7. AToken / StableDebtToken / VariableDebtToken implementations (built with the Pool proxy address),
   one DefaultReserveInterestRateStrategy per asset, ``initReserves`` (one transaction for all).
8. Risk parameters in one transaction through the package's ReservesSetupHelper (made risk admin for
   the call, then removed): ``configureReserveAsCollateral``, ``setReserveBorrowing``, flash loans
   on, ``setReserveFactor``; caps left at 0 (none).
9. E-mode category 1 "ETH correlated" (``setEModeCategory``, no own price source) and
   ``setAssetEModeCategory`` for WETH / wstETH / weETH.
10. ``updateFlashloanPremiumTotal`` (default 5 bps, nothing to the protocol).
11. Seed every reserve with liquidity supplied by a second account so borrows work.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from basis_core.testing.contracts import Artifact, deploy, load_artifact, transact
from basis_venue_aave.math import price_to_base, to_base_units
from basis_venue_aave.params import (
    BASE_CURRENCY_UNIT,
    EMODE_ETH_CORRELATED,
    FLASHLOAN_PREMIUM_TOTAL,
    RATE_STRATEGIES,
    RESERVES,
    EModeCategoryParams,
    RateStrategyParams,
    ReserveParams,
)

_A = "@aave/core-v3/artifacts/contracts/"
ARTIFACTS: dict[str, str] = {
    "PoolAddressesProvider": "protocol/configuration/PoolAddressesProvider.sol/PoolAddressesProvider.json",
    "ACLManager": "protocol/configuration/ACLManager.sol/ACLManager.json",
    "SupplyLogic": "protocol/libraries/logic/SupplyLogic.sol/SupplyLogic.json",
    "BorrowLogic": "protocol/libraries/logic/BorrowLogic.sol/BorrowLogic.json",
    "LiquidationLogic": "protocol/libraries/logic/LiquidationLogic.sol/LiquidationLogic.json",
    "EModeLogic": "protocol/libraries/logic/EModeLogic.sol/EModeLogic.json",
    "BridgeLogic": "protocol/libraries/logic/BridgeLogic.sol/BridgeLogic.json",
    "PoolLogic": "protocol/libraries/logic/PoolLogic.sol/PoolLogic.json",
    "FlashLoanLogic": "protocol/libraries/logic/FlashLoanLogic.sol/FlashLoanLogic.json",
    "ConfiguratorLogic": "protocol/libraries/logic/ConfiguratorLogic.sol/ConfiguratorLogic.json",
    "Pool": "protocol/pool/Pool.sol/Pool.json",
    "PoolConfigurator": "protocol/pool/PoolConfigurator.sol/PoolConfigurator.json",
    "AaveOracle": "misc/AaveOracle.sol/AaveOracle.json",
    "AaveProtocolDataProvider": "misc/AaveProtocolDataProvider.sol/AaveProtocolDataProvider.json",
    "AToken": "protocol/tokenization/AToken.sol/AToken.json",
    "StableDebtToken": "protocol/tokenization/StableDebtToken.sol/StableDebtToken.json",
    "VariableDebtToken": "protocol/tokenization/VariableDebtToken.sol/VariableDebtToken.json",
    "DefaultReserveInterestRateStrategy": (
        "protocol/pool/DefaultReserveInterestRateStrategy.sol/DefaultReserveInterestRateStrategy.json"
    ),
    "ReservesSetupHelper": "deployments/ReservesSetupHelper.sol/ReservesSetupHelper.json",
    "MintableERC20": "mocks/tokens/MintableERC20.sol/MintableERC20.json",
    "WETH9Mocked": "mocks/tokens/WETH9Mocked.sol/WETH9Mocked.json",
    "MockAggregator": "mocks/oracle/CLAggregators/MockAggregator.sol/MockAggregator.json",
    "WadRayMathWrapper": "mocks/tests/WadRayMathWrapper.sol/WadRayMathWrapper.json",
    "MockFlashLoanSimpleReceiver": (
        "mocks/flashloan/MockSimpleFlashLoanReceiver.sol/MockFlashLoanSimpleReceiver.json"
    ),
}

_CACHE: dict[str, Artifact] = {}


def artifact(name: str) -> Artifact:
    """A ``@aave/core-v3`` artifact by contract name (cached)."""
    if name not in _CACHE:
        _CACHE[name] = load_artifact(_A + ARTIFACTS[name])
    return _CACHE[name]


DEFAULT_ASSETS: tuple[str, ...] = ("WETH", "wstETH", "weETH", "USDC", "USDT")
DEFAULT_PRICES_USD: dict[str, Decimal] = {
    "WETH": Decimal("3000"),
    "wstETH": Decimal("3600"),
    "weETH": Decimal("3150"),
    "USDC": Decimal("1"),
    "USDT": Decimal("1"),
}
DEFAULT_SEED: dict[str, Decimal] = {
    "WETH": Decimal("1000"),
    "wstETH": Decimal("1000"),
    "weETH": Decimal("1000"),
    "USDC": Decimal("10000000"),
    "USDT": Decimal("10000000"),
}
MARKET_ID = "Basis Aave v3 test market"
# Explicit gas limit for every transaction sent here: skips eth_estimateGas (halves the time per
# transaction). A revert then surfaces as a mined failed receipt (RuntimeError from wait_receipt);
# use an eth_call of the same function to read Aave's error code.
TX_GAS = 12_000_000
MAX_UINT256 = 2**256 - 1


@dataclass
class AaveWorld:
    """A deployed Aave v3 market: web3 contracts, addresses, decimals and test helpers.

    ``tokens`` are the underlying ERC20s, ``a_tokens`` / ``variable_debt_tokens`` the reserve tokens,
    all keyed by symbol. Human amounts are ``Decimal`` in token units; prices ``Decimal`` USD.
    """

    w3: Any
    deployer: str
    liquidity_provider: str
    treasury: str
    addresses_provider: Any
    acl_manager: Any
    pool: Any
    pool_configurator: Any
    oracle: Any
    data_provider: Any
    tokens: dict[str, Any]
    a_tokens: dict[str, Any]
    stable_debt_tokens: dict[str, Any]
    variable_debt_tokens: dict[str, Any]
    aggregators: dict[str, Any]
    rate_strategies: dict[str, Any]
    reserves: dict[str, ReserveParams]
    rate_params: dict[str, RateStrategyParams]
    emode: EModeCategoryParams | None
    flash_loan_premium_total: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def decimals(self) -> dict[str, int]:
        """Token decimals by symbol."""
        return {s: r.decimals for s, r in self.reserves.items()}

    def deployment_table(self) -> dict[str, str]:
        """Symbol -> underlying address, plus Pool, PoolConfigurator, PoolDataProvider, Oracle, ... ."""
        table = {s: c.address for s, c in self.tokens.items()}
        table.update(
            {
                "PoolAddressesProvider": self.addresses_provider.address,
                "ACLManager": self.acl_manager.address,
                "Pool": self.pool.address,
                "PoolConfigurator": self.pool_configurator.address,
                "PoolDataProvider": self.data_provider.address,
                "Oracle": self.oracle.address,
            }
        )
        for s in self.tokens:
            table[f"a{s}"] = self.a_tokens[s].address
            table[f"variableDebt{s}"] = self.variable_debt_tokens[s].address
        return table

    def send(self, fn: Any, sender: str | None = None) -> Any:
        """Send a contract call from an unlocked account with :data:`TX_GAS`; return the receipt."""
        return transact(self.w3, fn, sender=sender or self.deployer, gas=TX_GAS)

    def mint_raw(self, symbol: str, to: str, units: int) -> None:
        """Mint ``units`` base units of ``symbol`` to ``to`` (test tokens are freely mintable)."""
        self.send(self.tokens[symbol].functions.mint(to, units))

    def mint(self, symbol: str, to: str, amount: Decimal) -> int:
        """Mint a human ``amount`` of ``symbol`` to ``to``; returns the base units minted."""
        units = to_base_units(amount, self.reserves[symbol].decimals)
        self.mint_raw(symbol, to, units)
        return units

    def set_price(self, symbol: str, price_usd: Decimal) -> int:
        """Set the oracle price of ``symbol`` (USD, at most 8 decimals); returns the 8-decimal answer."""
        answer = price_to_base(price_usd)
        if Decimal(answer).scaleb(-8) != price_usd:
            raise ValueError(f"price {price_usd} has more than 8 decimals")
        agg = deploy(self.w3, artifact("MockAggregator"), answer, sender=self.deployer, gas=TX_GAS)
        self.send(self.oracle.functions.setAssetSources([self.tokens[symbol].address], [agg.address]))
        self.aggregators[symbol] = agg
        return answer

    def price(self, symbol: str) -> int:
        """The oracle's current price of ``symbol`` (8 decimals)."""
        return int(self.oracle.functions.getAssetPrice(self.tokens[symbol].address).call())

    def approve_and_supply(self, symbol: str, user: str, units: int) -> None:
        """Mint ``units`` to ``user``, approve the Pool and supply them on the user's behalf."""
        token = self.tokens[symbol]
        self.mint_raw(symbol, user, units)
        self.send(token.functions.approve(self.pool.address, MAX_UINT256), sender=user)
        self.send(self.pool.functions.supply(token.address, units, user, 0), sender=user)

    def borrow(self, symbol: str, user: str, units: int) -> None:
        """Borrow ``units`` of ``symbol`` at the variable rate (mode 2)."""
        self.send(self.pool.functions.borrow(self.tokens[symbol].address, units, 2, 0, user), sender=user)


def deploy_aave_market(
    w3: Any,
    deployer: str,
    assets: Sequence[str] = DEFAULT_ASSETS,
    *,
    liquidity_provider: str | None = None,
    treasury: str | None = None,
    reserves: Mapping[str, ReserveParams] = RESERVES,
    rate_params: Mapping[str, RateStrategyParams] = RATE_STRATEGIES,
    prices_usd: Mapping[str, Decimal] = DEFAULT_PRICES_USD,
    seed: Mapping[str, Decimal] = DEFAULT_SEED,
    emode: EModeCategoryParams | None = EMODE_ETH_CORRELATED,
    flash_loan_premium_total: int = FLASHLOAN_PREMIUM_TOTAL,
    external_tokens: Mapping[str, str] | None = None,
) -> AaveWorld:
    """Deploy and configure an Aave v3 market for ``assets`` (see the module docstring for the steps).

    ``deployer`` (an unlocked account) becomes ACL admin and pool admin. ``liquidity_provider``
    (default: the node's last account) supplies ``seed`` of every asset; ``treasury`` (default: the
    deployer) receives reserve-factor income. ``external_tokens`` ({symbol: address}) lists existing
    ERC20s (e.g. our Lido wstETH) instead of deploying mocks; they are not minted nor seeded.
    Returns the :class:`AaveWorld`.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    accounts = list(w3.eth.accounts)
    lp = liquidity_provider or accounts[-1]
    treasury = treasury or deployer
    unknown = [a for a in assets if a not in reserves]
    if unknown:
        raise ValueError(f"no reserve parameters for {unknown}")

    def tx(fn: Any, sender: str = deployer) -> Any:
        return transact(w3, fn, sender=sender, gas=TX_GAS)

    def dep(name: str, *args: Any, libraries: dict[str, str] | None = None) -> Any:
        return deploy(w3, artifact(name), *args, sender=deployer, libraries=libraries, gas=TX_GAS)

    def at(name: str, address: str) -> Any:
        return w3.eth.contract(address=address, abi=artifact(name).abi)

    # 1. provider and ACL
    provider = dep("PoolAddressesProvider", MARKET_ID, deployer)
    tx(provider.functions.setACLAdmin(deployer))
    acl = dep("ACLManager", provider.address)
    tx(provider.functions.setACLManager(acl.address))
    tx(acl.functions.addPoolAdmin(deployer))
    timings["acl"] = time.perf_counter() - t0

    # 2. libraries
    libs: dict[str, str] = {}
    for name in ("SupplyLogic", "BorrowLogic", "LiquidationLogic", "EModeLogic", "BridgeLogic", "PoolLogic"):
        libs[name] = dep(name).address
    libs["FlashLoanLogic"] = dep("FlashLoanLogic", libraries={"BorrowLogic": libs["BorrowLogic"]}).address
    configurator_logic = dep("ConfiguratorLogic").address
    timings["libraries"] = time.perf_counter() - t0

    # 3. pool and configurator behind the provider's proxies
    pool_impl = dep("Pool", provider.address, libraries=libs)
    tx(provider.functions.setPoolImpl(pool_impl.address))
    pool = at("Pool", provider.functions.getPool().call())
    conf_impl = dep("PoolConfigurator", libraries={"ConfiguratorLogic": configurator_logic})
    tx(provider.functions.setPoolConfiguratorImpl(conf_impl.address))
    configurator = at("PoolConfigurator", provider.functions.getPoolConfigurator().call())
    timings["pool"] = time.perf_counter() - t0

    # 4. tokens
    tokens: dict[str, Any] = {}
    external = dict(external_tokens or {})
    for sym in assets:
        r = reserves[sym]
        if sym in external:
            tokens[sym] = at("MintableERC20", external[sym])
        elif sym == "WETH":
            tokens[sym] = dep("WETH9Mocked")
        else:
            tokens[sym] = dep("MintableERC20", sym, sym, r.decimals)
    timings["tokens"] = time.perf_counter() - t0

    # 5. oracle
    aggregators = {sym: dep("MockAggregator", _answer(prices_usd[sym])) for sym in assets}
    oracle = dep(
        "AaveOracle",
        provider.address,
        [tokens[s].address for s in assets],
        [aggregators[s].address for s in assets],
        "0x0000000000000000000000000000000000000000",
        "0x0000000000000000000000000000000000000000",
        BASE_CURRENCY_UNIT,
    )
    tx(provider.functions.setPriceOracle(oracle.address))

    # 6. data provider
    data_provider = dep("AaveProtocolDataProvider", provider.address)
    tx(provider.functions.setPoolDataProvider(data_provider.address))
    timings["oracle"] = time.perf_counter() - t0

    # 7. token implementations, strategies, reserves
    a_impl = dep("AToken", pool.address)
    s_impl = dep("StableDebtToken", pool.address)
    v_impl = dep("VariableDebtToken", pool.address)
    strategies: dict[str, Any] = {}
    for sym in assets:
        p = rate_params[sym]
        strategies[sym] = dep(
            "DefaultReserveInterestRateStrategy",
            provider.address,
            p.optimal_usage_ratio,
            p.base_variable_borrow_rate,
            p.variable_rate_slope1,
            p.variable_rate_slope2,
            p.stable_rate_slope1,
            p.stable_rate_slope2,
            p.base_stable_rate_offset,
            p.stable_rate_excess_offset,
            p.optimal_stable_to_total_debt_ratio,
        )
    zero = "0x0000000000000000000000000000000000000000"
    inputs = [
        (
            a_impl.address,
            s_impl.address,
            v_impl.address,
            reserves[sym].decimals,
            strategies[sym].address,
            tokens[sym].address,
            treasury,
            zero,
            f"Aave test {sym}",
            f"a{sym}",
            f"Aave test variable debt {sym}",
            f"variableDebt{sym}",
            f"Aave test stable debt {sym}",
            f"stableDebt{sym}",
            b"",
        )
        for sym in assets
    ]
    tx(configurator.functions.initReserves(inputs))
    timings["init_reserves"] = time.perf_counter() - t0

    # 8. risk parameters in one transaction via ReservesSetupHelper (risk admin only for the call)
    helper = dep("ReservesSetupHelper")
    tx(acl.functions.addRiskAdmin(helper.address))
    cfg = [
        (
            tokens[sym].address,
            reserves[sym].ltv,
            reserves[sym].liquidation_threshold,
            reserves[sym].liquidation_bonus,
            reserves[sym].reserve_factor,
            0,
            0,
            False,
            reserves[sym].borrowing_enabled,
            reserves[sym].flash_loan_enabled,
        )
        for sym in assets
    ]
    tx(helper.functions.configureReserves(configurator.address, cfg))
    tx(acl.functions.removeRiskAdmin(helper.address))
    timings["risk_params"] = time.perf_counter() - t0

    # 9. e-mode
    members = [s for s in assets if emode is not None and reserves[s].emode_category == emode.category_id]
    if emode is not None and members:
        tx(
            configurator.functions.setEModeCategory(
                emode.category_id, emode.ltv, emode.liquidation_threshold, emode.liquidation_bonus,
                zero, emode.label,
            )
        )
        for sym in members:
            tx(configurator.functions.setAssetEModeCategory(tokens[sym].address, emode.category_id))

    # 10. flash-loan premium
    tx(configurator.functions.updateFlashloanPremiumTotal(flash_loan_premium_total))
    timings["emode_flash"] = time.perf_counter() - t0

    a_tokens: dict[str, Any] = {}
    s_tokens: dict[str, Any] = {}
    v_tokens: dict[str, Any] = {}
    for sym in assets:
        a, s, v = data_provider.functions.getReserveTokensAddresses(tokens[sym].address).call()
        a_tokens[sym] = at("AToken", a)
        s_tokens[sym] = at("StableDebtToken", s)
        v_tokens[sym] = at("VariableDebtToken", v)

    world = AaveWorld(
        w3=w3,
        deployer=deployer,
        liquidity_provider=lp,
        treasury=treasury,
        addresses_provider=provider,
        acl_manager=acl,
        pool=pool,
        pool_configurator=configurator,
        oracle=oracle,
        data_provider=data_provider,
        tokens=tokens,
        a_tokens=a_tokens,
        stable_debt_tokens=s_tokens,
        variable_debt_tokens=v_tokens,
        aggregators=aggregators,
        rate_strategies=strategies,
        reserves={s: reserves[s] for s in assets},
        rate_params={s: rate_params[s] for s in assets},
        emode=emode if members else None,
        flash_loan_premium_total=flash_loan_premium_total,
        timings=timings,
    )

    # 11. seed liquidity
    for sym in assets:
        amount = seed.get(sym, Decimal(0))
        if amount > 0 and sym not in external:
            world.approve_and_supply(sym, lp, to_base_units(amount, reserves[sym].decimals))
    timings["seed"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t0
    return world


def _answer(price_usd: Decimal) -> int:
    answer = price_to_base(price_usd)
    if Decimal(answer).scaleb(-8) != price_usd:
        raise ValueError(f"price {price_usd} has more than 8 decimals")
    return answer
