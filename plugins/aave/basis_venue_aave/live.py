"""Live backend of the Aave venue: real transactions through :class:`basis_core.live.evm.EvmClient` (web3).

Imported only in live mode (``make_live_backend``). Everything goes through the stable IPool calls
``supply``, ``borrow`` (variable rate), ``repay``, ``withdraw``, ``setUserEMode``, ``getUserEMode``,
``getUserAccountData`` and ``flashLoanSimple``; token addresses come from the deployment table
(:mod:`basis_venue_aave.deployment`), aToken / variable-debt-token addresses from the market's
``PoolDataProvider.getReserveTokensAddresses``, prices from its ``AaveOracle``.

Before sending: the asset is known, the amount fits the token's decimals, the wallet holds what a supply /
repay needs (InsufficientFundsError, nothing sent). Every transaction is estimated first, so a call the
Pool would refuse raises before anything is sent: Aave's error codes map to typed errors (34 / 35 / 36 /
57: :class:`~basis_core.errors.HealthFactorError`; 26, 30, 32, 39, 58: InstructionError naming the field);
others stay :class:`~basis_core.errors.ContractRevertError`. E-mode: when ``e_mode_category`` differs from
``getUserEMode``, ``setUserEMode`` is sent first. Approvals to the Pool: ``approval_mode`` exact (default)
or unlimited; USDT-style tokens (``zero_approval_first``) are reset to 0 first.

Deltas: wallet tokens from the receipts' ERC20 ``Transfer`` (and WETH ``Deposit`` / ``Withdrawal``) events
of the account; ``aave:supplied:<asset>`` / ``aave:debt:<asset>`` as the aToken / debt-token balance after
the last transaction minus before the first (``balanceOf`` at those blocks: the exact change, interest of
those blocks included); ``ethereum:wallet:ETH`` pays ``gasUsed x effectiveGasPrice`` of every transaction
sent (approvals included). PnL ``gas`` is valued at the Aave oracle's WETH price.

Atomic bundles (``execute_atomic``): ONE transaction ``LoopExecutor.run`` (our contract, see
:mod:`basis_venue_aave.executor`), deployed per owner; its address comes from the table
(``contracts.LoopExecutor``) or the option ``executor``; :meth:`AaveLive.deploy_executor` deploys one.
The first bundle through an executor sends the one-time set-up it needs (:meth:`AaveLive.prepare_atomic`:
credit delegation and token approvals to the executor, unlimited: only its owner can make it act; e-mode).
Then the bundle is estimated (a failing step or post-condition raises, nothing is sent) and sent.
Bundle deltas: wallet tokens from the Transfer events (pulls from and sweeps to the account), ETH = -value
- gas + ETH swept back (the executor's ``Swept`` event), supplied / debt from balances at the blocks
around it; pnl ``gas`` and ``flash_loan_fee`` (the premium at the oracle price).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import (
    ConfigError,
    ContractRevertError,
    HealthFactorError,
    InstructionError,
    InsufficientFundsError,
)
from basis_core.live.evm import EvmClient, Receipt
from basis_core.live.onchain import abi_function as _fn
from basis_core.live.units import from_base_units, to_base_units
from basis_core.onchain.live import LendingLive
from basis_venue_aave.deployment import load_table
from basis_venue_aave.executor import (
    MAX_UINT256,
    ZERO_ADDRESS,
    Translation,
    deploy_executor,
    executor_artifact,
    ops_for_steps,
)
from basis_venue_aave.math import AccountData, flash_loan_premium
from basis_venue_aave.sim import account_metrics

VENUE = "aave"
WALLET = "ethereum:wallet:"
GAS_KEY = WALLET + "ETH"
_ZERO = Decimal(0)


POOL_ABI = [
    _fn("supply", ["address asset", "uint256 amount", "address onBehalfOf", "uint16 referralCode"], [], "nonpayable"),
    _fn("withdraw", ["address asset", "uint256 amount", "address to"], ["uint256"], "nonpayable"),
    _fn("borrow", ["address asset", "uint256 amount", "uint256 interestRateMode", "uint16 referralCode",
                   "address onBehalfOf"], [], "nonpayable"),
    _fn("repay", ["address asset", "uint256 amount", "uint256 interestRateMode", "address onBehalfOf"], ["uint256"],
        "nonpayable"),
    _fn("setUserEMode", ["uint8 categoryId"], [], "nonpayable"),
    _fn("getUserEMode", ["address user"], ["uint256"]),
    _fn("getUserAccountData", ["address user"], ["uint256 totalCollateralBase", "uint256 totalDebtBase",
                                                 "uint256 availableBorrowsBase", "uint256 currentLiquidationThreshold",
                                                 "uint256 ltv", "uint256 healthFactor"]),
    _fn("FLASHLOAN_PREMIUM_TOTAL", [], ["uint128"]),
    {"type": "function", "name": "getEModeCategoryData", "stateMutability": "view",
     "inputs": [{"name": "id", "type": "uint8"}],
     "outputs": [{"name": "", "type": "tuple", "components": [
         {"name": "ltv", "type": "uint16"}, {"name": "liquidationThreshold", "type": "uint16"},
         {"name": "liquidationBonus", "type": "uint16"}, {"name": "priceSource", "type": "address"},
         {"name": "label", "type": "string"}]}]},
    _fn("ADDRESSES_PROVIDER", [], ["address"]),
]
PROVIDER_ABI = [_fn("getPriceOracle", [], ["address"]), _fn("getPoolDataProvider", [], ["address"])]
ORACLE_ABI = [_fn("getAssetPrice", ["address asset"], ["uint256"])]
DATA_PROVIDER_ABI = [_fn("getReserveTokensAddresses", ["address asset"],
                         ["address aTokenAddress", "address stableDebtTokenAddress",
                          "address variableDebtTokenAddress"]),
                     _fn("getReserveConfigurationData", ["address asset"],
                         ["uint256 decimals", "uint256 ltv", "uint256 liquidationThreshold", "uint256 liquidationBonus",
                          "uint256 reserveFactor", "bool usageAsCollateralEnabled", "bool borrowingEnabled",
                          "bool stableBorrowRateEnabled", "bool isActive", "bool isFrozen"]),
                     _fn("getReserveEModeCategory", ["address asset"], ["uint256"]),
                     _fn("getUserReserveData", ["address asset", "address user"],
                         ["uint256 currentATokenBalance", "uint256 currentStableDebt", "uint256 currentVariableDebt",
                          "uint256 principalStableDebt", "uint256 scaledVariableDebt", "uint256 stableBorrowRate",
                          "uint256 liquidityRate", "uint40 stableRateLastUpdated",
                          "bool usageAsCollateralEnabled"])]
DEBT_TOKEN_ABI = [
    _fn("approveDelegation", ["address delegatee", "uint256 amount"], [], "nonpayable"),
    _fn("borrowAllowance", ["address fromUser", "address toUser"], ["uint256"]),
    _fn("balanceOf", ["address user"], ["uint256"]),
]
#: Aave error code -> (typed error, field, name)
AAVE_ERRORS: dict[str, tuple[type[InstructionError], str, str]] = {
    "26": (InstructionError, "amount", "INVALID_AMOUNT"),
    "30": (InstructionError, "asset", "BORROWING_NOT_ENABLED"),
    "32": (InstructionError, "amount", "NOT_ENOUGH_AVAILABLE_USER_BALANCE"),
    "34": (HealthFactorError, "amount", "COLLATERAL_BALANCE_IS_ZERO"),
    "35": (HealthFactorError, "amount", "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"),
    "36": (HealthFactorError, "amount", "COLLATERAL_CANNOT_COVER_NEW_BORROW"),
    "39": (InstructionError, "asset", "NO_DEBT_OF_SELECTED_TYPE"),
    "57": (HealthFactorError, "amount", "LTV_VALIDATION_FAILED"),
    "58": (InstructionError, "e_mode_category", "INCONSISTENT_EMODE_CATEGORY"),
}


class AaveLive(LendingLive):
    """The live backend (one per venue instance); methods mirror the venue's operations."""

    venue_name = VENUE

    def __init__(self, venue: Any, client: EvmClient | None = None) -> None:
        opts = venue.settings.options
        client = self.connect(venue, client, load_table)
        self.init_onchain(VENUE, client, self.table, opts)
        w3 = client.w3
        c = self.table["contracts"]
        self.pool = w3.eth.contract(address=client.checksum(c["Pool"]), abi=POOL_ABI)
        self._contracts = dict(c)
        self._oracle: Any = None
        self._data_provider: Any = None
        self._reserve_tokens: dict[str, tuple[str, str]] = {}
        self._executor_address: str | None = opts.get("executor") or c.get("LoopExecutor")
        self._executor: Any = None
        self._lido_cache: tuple[str, dict[str, str]] | None = None
        self._premium_bps: int | None = None
        ctx = venue.context
        self._encode_call: Any = getattr(ctx, "encode_call", None)  # other venues' steps as executor calls
        self._last_translation: tuple[Any, Translation] | None = None
        self.init_intents(VENUE, venue.context)

    # ------------------------------------------------------------------------------------------ lookups
    def _provider_contract(self) -> Any:
        addr = self._contracts.get("PoolAddressesProvider") or self.pool.functions.ADDRESSES_PROVIDER().call()
        return self.client.w3.eth.contract(address=self.client.checksum(addr), abi=PROVIDER_ABI)

    @property
    def oracle(self) -> Any:
        if self._oracle is None:
            addr = self._contracts.get("Oracle") or self._provider_contract().functions.getPriceOracle().call()
            self._oracle = self.client.w3.eth.contract(address=self.client.checksum(addr), abi=ORACLE_ABI)
        return self._oracle

    @property
    def data_provider(self) -> Any:
        if self._data_provider is None:
            addr = (self._contracts.get("PoolDataProvider")
                    or self._provider_contract().functions.getPoolDataProvider().call())
            self._data_provider = self.client.w3.eth.contract(address=self.client.checksum(addr),
                                                              abi=DATA_PROVIDER_ABI)
        return self._data_provider

    def token(self, asset: str, field: str = "asset") -> str:
        addr = self.tokens.get(asset)
        if addr is None:
            hint = " (Aave lends WETH, not native ETH)" if asset == "ETH" else ""
            known = ", ".join(sorted(self.tokens))
            raise InstructionError(field, f"unknown Aave reserve {asset!r}{hint}; known: {known}")
        return addr

    def reserve_tokens(self, asset: str) -> tuple[str, str]:
        """(aToken, variable debt token) addresses of ``asset``."""
        t = self._reserve_tokens.get(asset)
        if t is None:
            a, _, v = self.data_provider.functions.getReserveTokensAddresses(self.token(asset)).call()
            t = self._reserve_tokens[asset] = (self.client.checksum(a), self.client.checksum(v))
        return t

    def units(self, asset: str, amount: Decimal, field: str = "amount") -> int:
        return to_base_units(amount, self.decimals[asset] if asset in self.decimals else 18, field)

    def price_usd(self, asset: str) -> Decimal | None:
        """The Aave oracle's USD price of ``asset`` (None when it has none)."""
        try:
            return from_base_units(int(self.oracle.functions.getAssetPrice(self.token(asset)).call()), 8)
        except Exception:
            return None

    def premium_bps(self) -> int:
        if self._premium_bps is None:
            self._premium_bps = int(self.pool.functions.FLASHLOAN_PREMIUM_TOTAL().call())
        return self._premium_bps

    # ------------------------------------------------------------------------------------------ errors
    @staticmethod
    def typed(exc: ContractRevertError, field_prefix: str = "", fields: Mapping[str, str] | None = None) -> Exception:
        """A typed error for an Aave revert code (the ContractRevertError itself when unknown); ``fields``
        overrides the field named for a code (e.g. ``{"35": "e_mode_category"}`` for setUserEMode)."""
        reason = (exc.reason or "").strip()
        known = AAVE_ERRORS.get(reason)
        if known is None:
            return exc
        cls, field, name = known
        field = (fields or {}).get(reason, field)
        return cls(field_prefix + field, f"refused by the Aave Pool (error {reason} {name}); nothing was sent")

    def _send(self, fn: Any, value: int = 0, field_prefix: str = "", fields: Mapping[str, str] | None = None,
              final: Mapping[str, Any] | None = None) -> Receipt:
        try:
            return self.client.send(fn, value=value, final=final)
        except ContractRevertError as e:
            err = self.typed(e, field_prefix, fields)
            if err is e:
                raise
            raise err from None

    # ------------------------------------------------------------------------------------------ helpers
    def _emode(self, category: int | None, prefix: str = "") -> list[Receipt]:
        """``setUserEMode(category)`` when it differs from the account's (errors name ``prefix`` + field)."""
        if category is None:
            return []
        if int(self.pool.functions.getUserEMode(self.me).call()) == category:
            return []
        return [self._send(self.pool.functions.setUserEMode(category), field_prefix=prefix,
                           fields={"35": "e_mode_category", "58": "e_mode_category"})]

    def _position_balances(self, assets: Sequence[str], block: int) -> dict[str, tuple[int, int]]:
        out = {}
        for a in assets:
            at, vt = self.reserve_tokens(a)
            coll = int(self.client.erc20(at).functions.balanceOf(self.me).call(block_identifier=block))
            debt = int(self.client.erc20(vt).functions.balanceOf(self.me).call(block_identifier=block))
            out[a] = (coll, debt)
        return out

    def _deltas(self, op: str, ts: Any, ins: Any, receipts: Sequence[Receipt], wallet_tokens: Sequence[str],
                assets: Sequence[str], extra_eth: int = 0, status: str = "filled",
                details: dict[str, Any] | None = None, pnl: dict[str, Decimal] | None = None) -> ExecutionDeltas:
        """Deltas of ``receipts``: wallet tokens from Transfer events, positions from balances around them, gas."""
        first, last = receipts[0].block_number, receipts[-1].block_number
        before = self._position_balances(assets, first - 1)
        after = self._position_balances(assets, last)
        addrs = [self.token(t) for t in wallet_tokens]
        moved = self.transfer_totals(receipts, addrs)
        positions: dict[str, Decimal] = {}
        for t, a in zip(wallet_tokens, addrs, strict=True):
            if moved[a]:
                positions[WALLET + t] = from_base_units(moved[a], self.decimals[t])
        for a in assets:
            dec = self.decimals[a]
            dc = after[a][0] - before[a][0]
            dd = after[a][1] - before[a][1]
            if dc:
                positions[f"{VENUE}:supplied:{a}"] = from_base_units(dc, dec)
            if dd:
                positions[f"{VENUE}:debt:{a}"] = from_base_units(dd, dec)
        gas_wei = sum(r.gas_cost_wei for r in receipts)
        eth = extra_eth - gas_wei
        if eth:
            positions[GAS_KEY] = from_base_units(eth, 18)
        gas_eth = from_base_units(gas_wei, 18)
        out_pnl = dict(pnl or {})
        weth_usd = self.price_usd("WETH") if "WETH" in self.tokens else None
        if weth_usd is not None and gas_wei:
            out_pnl["gas"] = -gas_eth * weth_usd
        det = {"tx_hashes": [r.tx_hash for r in receipts], "gas_used": sum(r.gas_used for r in receipts),
               "block_number": last, **(details or {})}
        amount = getattr(ins, "amount", None)
        return ExecutionDeltas(VENUE, op, ts, positions, {GAS_KEY: -gas_eth} if gas_wei else {}, status,
                               ins.client_id, receipts[-1].tx_hash, None,
                               amount if isinstance(amount, Decimal) else None, out_pnl, det)

    # ------------------------------------------------------------------------------------------ operations
    # each operation is a journaled on-chain intent (basis_core.live.chain_intents); its final transaction
    # carries {"kind": "aave" | "atomic"} and finish_<kind> turns the receipts into deltas (also on a resume)
    _FINAL = {"kind": "aave"}

    def finish_aave(self, ts: Any, ins: Any, receipts: list[Receipt], ctx: Mapping[str, Any]) -> ExecutionDeltas:
        """Deltas of supply / withdraw / borrow / repay from their receipts."""
        return self._deltas(ins.operation, ts, ins, receipts, [ins.asset], [ins.asset])

    def _supply(self, ts: Any, ins: Any) -> ExecutionDeltas:
        addr = self.token(ins.asset)
        amt = self.units(ins.asset, ins.amount)
        self.check_balance(ins.asset, amt)
        receipts = self._emode(ins.e_mode_category)
        receipts += self.approve(ins.asset, self.pool.address, amt)
        receipts.append(self._send(self.pool.functions.supply(addr, amt, self.me, 0), final=self._FINAL))
        return self.finish_aave(ts, ins, receipts, self._FINAL)

    def _withdraw(self, ts: Any, ins: Any) -> ExecutionDeltas:
        addr = self.token(ins.asset)
        amt = MAX_UINT256 if ins.amount == "max" else self.units(ins.asset, ins.amount)
        if amt != MAX_UINT256:
            have = int(self.client.erc20(self.reserve_tokens(ins.asset)[0]).functions.balanceOf(self.me).call())
            if have < amt:
                dec = self.decimals[ins.asset]
                raise InsufficientFundsError(f"{VENUE}:supplied:{ins.asset}", from_base_units(amt, dec),
                                             from_base_units(have, dec))
        receipt = self._send(self.pool.functions.withdraw(addr, amt, self.me), final=self._FINAL)
        return self.finish_aave(ts, ins, [receipt], self._FINAL)

    def _borrow(self, ts: Any, ins: Any) -> ExecutionDeltas:
        addr = self.token(ins.asset)
        amt = self.units(ins.asset, ins.amount)
        receipts = self._emode(ins.e_mode_category)
        receipts.append(self._send(self.pool.functions.borrow(addr, amt, 2, 0, self.me), fields={"58": "asset"},
                                   final=self._FINAL))
        return self.finish_aave(ts, ins, receipts, self._FINAL)

    def _repay(self, ts: Any, ins: Any) -> ExecutionDeltas:
        addr = self.token(ins.asset)
        debt_token = self.reserve_tokens(ins.asset)[1]
        owed = int(self.client.erc20(debt_token).functions.balanceOf(self.me).call())
        if owed == 0:
            raise InstructionError("asset", f"no {ins.asset} debt to repay (Aave error 39 NO_DEBT_OF_SELECTED_TYPE)")
        margin = owed + owed // 100_000 + 1  # the debt grows until the block is mined: a 0.001 % margin
        if ins.amount == "max":
            amt = MAX_UINT256
            self.check_balance(ins.asset, owed)
            allow = min(margin, self.client.balance_of(addr))
        else:
            amt = self.units(ins.asset, ins.amount)
            self.check_balance(ins.asset, min(amt, owed))
            allow = min(amt, margin)
        receipts = self.approve(ins.asset, self.pool.address, allow)
        receipts.append(self._send(self.pool.functions.repay(addr, amt, 2, self.me), final=self._FINAL))
        return self.finish_aave(ts, ins, receipts, self._FINAL)

    # ------------------------------------------------------------------------------------------ atomic bundles
    @property
    def executor(self) -> Any:
        """The LoopExecutor contract (ConfigError when none is configured)."""
        if self._executor is None:
            if not self._executor_address:
                raise ConfigError("venue_config.aave: no LoopExecutor for atomic bundles; deploy one "
                                  "(AaveLive.deploy_executor) and set contracts.LoopExecutor or the option 'executor'")
            self._executor = self.client.w3.eth.contract(address=self.client.checksum(self._executor_address),
                                                         abi=executor_artifact().abi)
        return self._executor

    def deploy_executor(self, steth: str, wsteth: str) -> str:
        """Deploy a LoopExecutor owned by this account (Pool, WETH from the table; stETH / wstETH given)."""
        addr = deploy_executor(self.client, self.pool.address, self.token("WETH"), steth, wsteth)
        self._executor_address = addr
        self._executor = None
        return addr

    def _lido(self) -> dict[str, str]:
        """The executor's WETH / stETH / wstETH addresses (immutables, read once per executor)."""
        ex = self.executor
        cached = self._lido_cache
        if cached is None or cached[0] != ex.address:
            cached = self._lido_cache = (ex.address, {"WETH": ex.functions.WETH().call(),
                                                      "stETH": ex.functions.STETH().call(),
                                                      "wstETH": ex.functions.WSTETH().call()})
        return cached[1]

    def _translate(self, bundle: Any, ts: Any = None) -> Translation:
        """The bundle's executor ops (memoised for the last bundle: other venues' steps are encoded once)."""
        last = self._last_translation
        if last is not None and last[0] is bundle:
            return last[1]
        lido = self._lido()

        def units(asset: str, amount: Decimal, field: str) -> int:
            return to_base_units(amount, self.decimals.get(asset, 18), field)

        encode = None
        if self._encode_call is not None:
            # outputs go straight to the owner when no step of ours follows (a routed split: no sweep transfer),
            # else to the executor, whose later steps use them
            only_calls = bundle.flash_loan is None and all(s.venue not in ("aave", "lido") for s in bundle.steps)
            recipient = self.me if only_calls else self.executor.address
            encode_call = self._encode_call

            def encode(step: Any) -> Any:
                return encode_call(ts, step, recipient)

        t = ops_for_steps(bundle.steps, self.token, units, lambda a: self.reserve_tokens(a)[0],
                          lambda a: self.reserve_tokens(a)[1], lido.__getitem__, encode)
        self._last_translation = (bundle, t)
        return t

    def _call_tokens(self, t: Translation) -> dict[str, tuple[str, int]]:
        """Tokens the CALL steps move, by symbol: (address, decimals)."""
        out: dict[str, tuple[str, int]] = {}
        for c in t.calls:
            out[c.symbol_in] = (self.client.checksum(c.token_in), c.decimals_in)
            out[c.symbol_out] = (self.client.checksum(c.token_out), c.decimals_out)
        return out

    def prepare_atomic(self, bundle: Any, ts: Any = None) -> list[Receipt]:
        """Send the one-time set-up a bundle needs (e-mode, credit delegation and approvals to the executor: once
        per token, unlimited)."""
        t = self._translate(bundle, ts)
        ex = self.executor.address
        sent = self._emode(t.emode, "steps.")
        for asset, amt in t.borrowed.items():
            debt = self.client.w3.eth.contract(address=self.reserve_tokens(asset)[1], abi=DEBT_TOKEN_ABI)
            if int(debt.functions.borrowAllowance(self.me, ex).call()) < amt:
                sent.append(self.client.send(debt.functions.approveDelegation(ex, MAX_UINT256)))
        pulled = set(t.pulled)
        if bundle.flash_loan is not None:
            pulled.add(bundle.flash_loan.asset)
        lido = self._lido()
        for sym in sorted(pulled):
            if sym.startswith("a") and sym[1:] in self.tokens:
                addr = self.reserve_tokens(sym[1:])[0]
            else:
                addr = self.tokens.get(sym) or lido[sym]
            if self.client.allowance(addr, ex) < MAX_UINT256 // 2:
                sent += self.approve_address(addr, ex, MAX_UINT256, unlimited=True)
        for addr in sorted({self.client.checksum(c.token_in) for c in t.calls if c.amount_in > 0}):
            if self.client.allowance(addr, ex) < MAX_UINT256 // 2:
                sent += self.approve_address(addr, ex, MAX_UINT256, unlimited=True)
        return sent

    def _atomic(self, ts: Any, bundle: Any) -> ExecutionDeltas:
        if bundle.min_health_factor is not None and bundle.health_factor_venue != VENUE:
            raise InstructionError("health_factor_venue", "the aave executor checks the health factor on aave only")
        fl = bundle.flash_loan
        flash_asset, flash_amt = "0x0000000000000000000000000000000000000000", 0
        if fl is not None:
            if fl.venue != VENUE:
                raise InstructionError("flash_loan.venue", f"the aave executor flash-borrows from aave, not {fl.venue}")
            flash_asset = self.token(fl.asset, "flash_loan.asset")
            flash_amt = self.units(fl.asset, fl.amount, "flash_loan.amount")
        t = self._translate(bundle, ts)
        prep = self.prepare_atomic(bundle, ts)
        min_hf = 0
        if bundle.min_health_factor is not None:
            min_hf = int((bundle.min_health_factor * 10**18).to_integral_value(rounding=ROUND_CEILING))
        ex = self.executor
        lido = self._lido()
        sweep = sorted(({self.client.checksum(self.tokens.get(s) or lido[s]) for s in t.sweep}
                        | {a for a, _ in self._call_tokens(t).values()}) - {ZERO_ADDRESS})  # no Lido: zero
        fn = ex.functions.run([o.as_tuple() for o in t.ops], flash_asset, flash_amt, min_hf, sweep)
        ctx = {"kind": "atomic", "call_tokens": {s: list(v) for s, v in self._call_tokens(t).items()}}
        try:
            receipt = self.client.send(fn, value=t.value, final=ctx)
        except ContractRevertError as e:
            raise self._bundle_error(e, bundle) from None
        return self.finish_atomic(ts, bundle, [*prep, receipt], ctx)

    def finish_atomic(self, ts: Any, bundle: Any, receipts: list[Receipt], ctx: Mapping[str, Any]) -> ExecutionDeltas:
        """Deltas of a bundle from its receipts (the set-up transactions, then ``LoopExecutor.run``)."""
        fl = bundle.flash_loan
        flash_amt = self.units(fl.asset, fl.amount, "flash_loan.amount") if fl is not None else 0
        t = self._translate(bundle, ts)
        ex = self.executor
        lido = self._lido()
        prep, receipt = receipts[:-1], receipts[-1]
        swept_eth = self._swept_eth(receipt, ex.address)
        call_tokens = {s: (str(v[0]), int(v[1])) for s, v in (ctx.get("call_tokens") or {}).items()}
        mine = {s for s, (a, _) in call_tokens.items()
                if s in self.tokens and self.client.checksum(self.tokens[s]) == self.client.checksum(a)}
        wallet_tokens = sorted({s for s in t.sweep if s in self.tokens} | ({fl.asset} if fl else set()) | mine)
        assets = sorted(t.aave_assets | ({fl.asset} if fl else set()))
        extra_wallet = {s: lido[s] for s in ("stETH", "wstETH") if s not in self.tokens and lido[s] != ZERO_ADDRESS}
        d = self._deltas("atomic", ts, bundle, [*prep, receipt] if prep else [receipt], wallet_tokens, assets,
                         extra_eth=swept_eth - t.value, details={"steps": len(bundle.steps)})
        positions = dict(d.positions)
        others = {s: v for s, v in call_tokens.items() if s not in mine}
        if others:  # tokens of other venues' steps that are not Aave reserves: their Transfer events
            moved = self.transfer_totals([*prep, receipt], [a for a, _ in others.values()])
            for sym, (addr, dec) in others.items():
                if moved[addr]:
                    positions[WALLET + sym] = from_base_units(moved[addr], dec)
        for sym, addr in extra_wallet.items():  # Lido tokens that are not reserves: balances around the bundle
            bal = self.client.erc20(addr).functions.balanceOf(self.me)
            v = int(bal.call(block_identifier=receipt.block_number)) - int(
                bal.call(block_identifier=receipt.block_number - 1))
            if v:
                positions[WALLET + sym] = from_base_units(v, 18)
        pnl = dict(d.pnl)
        if fl is not None:
            premium = flash_loan_premium(flash_amt, self.premium_bps())
            px = self.price_usd(fl.asset)
            if px is not None:
                pnl["flash_loan_fee"] = -from_base_units(premium, self.decimals[fl.asset]) * px
        hf = self.account_data(receipt.block_number).health_factor
        return ExecutionDeltas(VENUE, "atomic", ts, positions, d.fees, "filled", bundle.client_id, receipt.tx_hash,
                               None, None, pnl, {**d.details, "health_factor": from_base_units(hf, 18)})

    def _bundle_error(self, exc: ContractRevertError, bundle: Any) -> Exception:
        reason = (exc.reason or "").strip()
        sel = reason[:10].lower()
        from web3 import Web3
        hf_sel = "0x" + Web3.keccak(text="HealthFactorTooLow(uint256,uint256)")[:4].hex().removeprefix("0x")
        if sel == hf_sel:
            data = bytes.fromhex(reason[10:])
            hf = int.from_bytes(data[:32], "big") if len(data) >= 32 else 0
            return HealthFactorError("min_health_factor",
                                     f"the bundle would leave the health factor at {from_base_units(hf, 18)}, "
                                     f"below {bundle.min_health_factor}; nothing was sent")
        typed = self.typed(exc, "steps.")
        return typed

    @staticmethod
    def _swept_eth(receipt: Receipt, executor: str) -> int:
        from web3 import Web3
        topic = Web3.keccak(text="Swept(address,uint256)").hex().removeprefix("0x")
        total = 0
        for log in receipt.logs:
            if str(log["address"]).lower() != executor.lower():
                continue
            topics = [bytes(t).hex().removeprefix("0x") if not isinstance(t, str) else t.removeprefix("0x")
                      for t in log["topics"]]
            if topics and topics[0] == topic and int(topics[1], 16) == 0:
                data = log["data"]
                raw = bytes(data).hex() if not isinstance(data, str) else data.removeprefix("0x")
                total += int(raw[:64], 16)
        return total

    # ------------------------------------------------------------------------------------------ queries
    def account_data(self, block: Any = "latest") -> AccountData:
        """``getUserAccountData`` of the account (at ``block``)."""
        c, d, a, lt, ltv, hf = (int(x) for x in self.pool.functions.getUserAccountData(self.me).call(
            block_identifier=block))
        return AccountData(c, d, a, lt, ltv, hf)

    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet balances of the table's tokens and ETH, supplied / debt balances, account metrics."""
        out: dict[str, Decimal] = {GAS_KEY: from_base_units(self.client.eth_balance(), 18)}
        for sym, addr in self.tokens.items():
            dec = self.decimals[sym]
            bal = self.client.balance_of(addr)
            if bal:
                out[WALLET + sym] = from_base_units(bal, dec)
            at, vt = self.reserve_tokens(sym)
            coll = self.client.balance_of(at)
            debt = self.client.balance_of(vt)
            if coll:
                out[f"{VENUE}:supplied:{sym}"] = from_base_units(coll, dec)
            if debt:
                out[f"{VENUE}:debt:{sym}"] = from_base_units(debt, dec)
        out.update(account_metrics(self.account_data(), int(self.pool.functions.getUserEMode(self.me).call())))
        return out

    def risk_state(self, ts: Any, shock: Any) -> list[Any] | None:
        """The account's health factor under a :class:`basis_core.risk.Shock`, from one block's on-chain state:
        each reserve's aToken / debt balances and collateral flag (``getUserReserveData``), LTV / threshold /
        e-mode category (``getReserveConfigurationData``, ``getReserveEModeCategory``), the user's e-mode
        (``getEModeCategoryData``) and the oracle's prices moved by the shock, through
        ``calculate_user_account_data`` (Pool.getUserAccountData's integer math); debts grown by the shock's
        borrow rate over its horizon. None without a position. E-mode categories with their own price source
        are priced with the reserves' oracle (as the backtest). The shock's pending supply / withdraw / borrow /
        repay (the live pre-trade corridor check, :func:`basis_core.risk.guard.lending_changes`) are projected
        onto the balances read."""
        from basis_core.risk import NO_SHOCK, LegRisk
        from basis_core.risk.guard import lending_changes
        from basis_venue_aave.math import AssetPosition, calculate_user_account_data

        shock = shock or NO_SHOCK
        snap = self._risk_snapshot(self.client.w3.eth.block_number)
        out: list[AssetPosition] = []
        changes = lending_changes(getattr(shock, "pending", None), VENUE)  # the pre-trade check's instruction
        for sym, (coll, debt, use, cfg, cat, raw) in snap["reserves"].items():
            for c in (c for c in changes if c.asset == sym):
                coll = 0 if c.withdraw_all else max(coll + int(c.collateral.scaleb(self.decimals[sym])), 0)
                debt = 0 if c.repay_all else max(debt + int(c.debt.scaleb(self.decimals[sym])), 0)
                use = use or c.collateral > 0  # a first supply becomes collateral (if the reserve allows: LTV)
            if coll == 0 and debt == 0:
                continue
            price = int(Decimal(raw) * shock.price_factor(sym))
            if debt:
                debt = int(Decimal(debt) * shock.debt_growth(sym))
            out.append(AssetPosition(price, cfg[0], cfg[1], cfg[2], coll, debt, use, cat))
        if not out:
            return None
        user_cat = next((c.e_mode for c in reversed(changes) if c.e_mode is not None), snap["user_cat"])
        em = self._emode_params(user_cat, snap["block"]) if user_cat else None
        acc = calculate_user_account_data(out, em)
        hf = from_base_units(acc.health_factor, 18) if acc.total_debt_base else None
        eth_price = snap["eth_price"]
        eth_usd = from_base_units(eth_price, 8) * shock.eth if eth_price is not None else None
        refs = {"oracle:ETH/USD": eth_usd} if eth_usd is not None else {}
        return [LegRisk(VENUE, f"{VENUE}:account", "lending", hf, refs,
                        {"collateral_usd": from_base_units(acc.total_collateral_base, 8),
                         "debt_usd": from_base_units(acc.total_debt_base, 8),
                         "liquidation_threshold": from_base_units(acc.current_liquidation_threshold, 4)})]

    def _risk_snapshot(self, block: int) -> dict[str, Any]:
        """The chain state :meth:`risk_state` prices, read once per block (a corridor search asks for one block's
        state under many shocks): per reserve (aToken balance, debt, collateral flag, (decimals, LTV, threshold),
        e-mode category, oracle price), the ETH oracle price and the user's e-mode."""
        cached = getattr(self, "_risk_cache", None)
        if cached is not None and cached["block"] == block:
            return cached  # type: ignore[no-any-return]
        dp = self.data_provider.functions
        reserves: dict[str, tuple[int, int, bool, tuple[int, int, int], int, int]] = {}
        eth_price: int | None = None
        for sym, addr in self.tokens.items():
            raw = int(self.oracle.functions.getAssetPrice(addr).call(block_identifier=block))
            if sym in ("WETH", "ETH") and eth_price is None:
                eth_price = raw
            u = dp.getUserReserveData(addr, self.me).call(block_identifier=block)
            cfg = dp.getReserveConfigurationData(addr).call(block_identifier=block)
            cat = int(dp.getReserveEModeCategory(addr).call(block_identifier=block))
            reserves[sym] = (int(u[0]), int(u[1]) + int(u[2]), bool(u[8]), (int(cfg[0]), int(cfg[1]), int(cfg[2])),
                             cat, raw)
        snap = {"block": block, "reserves": reserves, "eth_price": eth_price,
                "user_cat": int(self.pool.functions.getUserEMode(self.me).call(block_identifier=block)), "emodes": {}}
        self._risk_cache = snap
        return snap

    def _emode_params(self, category: int, block: int) -> Any:
        from basis_venue_aave.params import EModeCategoryParams

        snap = self._risk_snapshot(block)
        got = snap["emodes"].get(category)
        if got is None:
            e = self.pool.functions.getEModeCategoryData(category).call(block_identifier=block)
            got = snap["emodes"][category] = EModeCategoryParams(category, int(e[0]), int(e[1]), int(e[2]), str(e[4]))
        return got

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        asset, amount = getattr(ins, "asset", None), getattr(ins, "amount", None)
        if asset not in self.tokens or not isinstance(amount, Decimal):
            return None
        px = self.price_usd(asset)
        return None if px is None else amount * px


__all__ = ["AAVE_ERRORS", "AaveLive"]
