"""Instruction models: one frozen pydantic v2 model per operation, discriminated on ``operation``.

Amounts and prices are ``Decimal`` in human units (1.5 ETH, not wei), finite, strictly positive and
below :data:`MAX_AMOUNT`. Symbols use ccxt's unified form: spot ``ETH/USDT``, linear perpetual
``ETH/USDT:USDT``. Tokens are symbols (``WETH``, ``USDC``, ``wstETH``). Every instruction has a
``venue`` and an optional ``client_id`` (the idempotency key). Build one from a model, a dict or a
JSON string with :func:`parse_instruction`; a bad one raises
:class:`~basis_core.errors.InstructionValidationError` naming the field and the reason.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from basis_core.errors import (
    FrozenInstructionError,
    InstructionError,
    InstructionValidationError,
    UnknownOperationError,
    short_repr,
)

#: Largest amount or price accepted (anything above is treated as a typo, not an order).
MAX_AMOUNT = Decimal("1e15")
#: Longest JSON text accepted as an instruction (characters or bytes).
MAX_JSON_CHARS = 1_000_000
#: Deepest nesting of arrays / objects accepted in a JSON instruction (an atomic bundle needs 4).
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _json_depth(text: str) -> int:
    """The deepest nesting of arrays / objects in ``text`` (strings skipped), counted without parsing: the JSON
    decoder recurses in C, and a deep enough text crashes the process when the recursion limit is high."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    for m in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest

Amount = Annotated[Decimal, Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False, decimal_places=36)]
NonNegativeAmount = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False, decimal_places=36)]
Price = Annotated[Decimal, Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False, decimal_places=36)]
Bps = Annotated[Decimal, Field(ge=0, le=10_000, allow_inf_nan=False)]
VenueName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")]
ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/\-]{1,64}$")]
Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9.\-]{0,31}$")]
SpotSymbol = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")]
PerpSymbol = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}:[A-Z0-9]{1,20}$")]
PoolId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/\-]{1,80}$")]
#: an isolated lending market of a venue with many (Morpho Blue): its alias (``wstETH/WETH-94.5``) or id (``0x...``)
MarketRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/\-]{1,80}$")]
Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]
TimeInForce = Literal["GTC", "IOC", "FOK"]
MaxOr = Literal["max"]


class InstructionBase(BaseModel):
    """Fields every instruction has."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    venue: VenueName
    client_id: ClientId | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if any(getattr(b, "__basis_final__", False) for b in cls.__mro__[1:]):
            raise TypeError(f"{cls.__name__}: instruction models are final (the core routes only its own models)")
        super().__init_subclass__(**kwargs)


class _FrozenField:
    """Set on each field of a final instruction model: ``object.__setattr__(instruction, field, value)``, the way
    round a frozen pydantic model, raises instead of changing the caller's instruction. It has no ``__get__``, so
    reading a field costs what it did (the value comes from the instance ``__dict__``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __set__(self, obj: object, value: object) -> None:
        raise FrozenInstructionError(f"instruction field {self.name!r} is frozen; build a new instruction instead")

    def __delete__(self, obj: object) -> None:
        raise FrozenInstructionError(f"instruction field {self.name!r} is frozen")


def _make_final(model: type[BaseModel]) -> None:
    """Guard every field of ``model`` against ``object.__setattr__`` (see :class:`_FrozenField`)."""
    for name in model.model_fields:
        setattr(model, name, _FrozenField(name))
    model.__basis_final__ = True  # type: ignore[attr-defined]


class _OrderFields(InstructionBase):
    side: Side
    amount: Amount = Field(description="order size in base units (e.g. ETH)")
    order_type: OrderType = "market"
    price: Price | None = Field(default=None, description="limit price in quote units")
    time_in_force: TimeInForce = "GTC"
    post_only: bool = False

    @model_validator(mode="after")
    def _check_order(self) -> _OrderFields:
        if self.order_type == "limit" and self.price is None:
            raise ValueError("price: required for limit orders")
        if self.order_type == "market" and self.price is not None:
            raise ValueError("price: not allowed for market orders (use order_type='limit')")
        if self.post_only and self.order_type != "limit":
            raise ValueError("post_only: only limit orders can be post-only")
        if self.post_only and self.time_in_force != "GTC":
            raise ValueError("time_in_force: a post-only order rests, so it must be GTC")
        return self

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]  # type: ignore[attr-defined, no-any-return]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1].split(":")[0]  # type: ignore[attr-defined, no-any-return]


class SpotTrade(_OrderFields):
    """Buy or sell ``amount`` of the base asset of a spot ``symbol`` (``ETH/USDT``)."""

    operation: Literal["spot_trade"] = "spot_trade"
    symbol: SpotSymbol


class PerpTrade(_OrderFields):
    """Trade a linear perpetual (``ETH/USDT:USDT``); ``amount`` in base units; buy = long."""

    operation: Literal["perp_trade"] = "perp_trade"
    symbol: PerpSymbol
    reduce_only: bool = False
    leverage: Annotated[Decimal, Field(ge=1, le=200, allow_inf_nan=False)] | None = None

    @property
    def settle(self) -> str:
        return self.symbol.split(":")[1]


class Swap(InstructionBase):
    """Swap ``amount_in`` of ``token_in`` for ``token_out`` on a DEX, with slippage protection."""

    operation: Literal["swap"] = "swap"
    token_in: Token
    token_out: Token
    amount_in: Amount
    min_amount_out: NonNegativeAmount | None = None
    max_slippage_bps: Bps | None = None
    pool: PoolId | None = Field(default=None, description="pool id, e.g. 'v3:WETH/USDC:500' or 'v2:WETH/USDC'")
    deadline: AwareDatetime | None = None
    quote_only: bool = Field(default=False, description="quote without executing")
    allow_cex: tuple[VenueName, ...] | None = Field(
        default=None, description="a routed swap (venue 'auto') may put a leg on these CEX venues' spot books "
                                  "(their spot balances; live a separate order); default none")

    @model_validator(mode="after")
    def _check_tokens(self) -> Swap:
        if self.token_in == self.token_out:
            raise ValueError("token_out: must differ from token_in")
        if self.allow_cex and self.venue != "auto":
            raise ValueError("allow_cex: only a routed swap (venue 'auto') can add a CEX leg")
        return self


class Supply(InstructionBase):
    """Supply ``amount`` of ``asset`` to a lending market (Aave; Morpho: the market's loan token lends, its collateral
    token is posted as collateral)."""

    operation: Literal["supply"] = "supply"
    asset: Token
    amount: Amount
    market: MarketRef | None = Field(default=None, description="venues with isolated markets (Morpho)")
    e_mode_category: Annotated[int, Field(ge=0, le=255)] | None = None


class Withdraw(InstructionBase):
    """Withdraw ``amount`` (or ``"max"``) of supplied ``asset``."""

    operation: Literal["withdraw"] = "withdraw"
    asset: Token
    amount: Amount | MaxOr
    market: MarketRef | None = Field(default=None, description="venues with isolated markets (Morpho)")


class Borrow(InstructionBase):
    """Borrow ``amount`` of ``asset`` at a variable rate against supplied collateral."""

    operation: Literal["borrow"] = "borrow"
    asset: Token
    amount: Amount
    market: MarketRef | None = Field(default=None, description="venues with isolated markets (Morpho)")
    rate_mode: Literal["variable"] = "variable"
    e_mode_category: Annotated[int, Field(ge=0, le=255)] | None = None


class Repay(InstructionBase):
    """Repay ``amount`` (or ``"max"``) of borrowed ``asset``."""

    operation: Literal["repay"] = "repay"
    asset: Token
    amount: Amount | MaxOr
    market: MarketRef | None = Field(default=None, description="venues with isolated markets (Morpho)")


class Liquidate(InstructionBase):
    """Liquidate ``borrower``'s unhealthy position in ``market`` as the liquidator: repay ``amount`` of its debt
    (loan-token units, or ``"max"``: as much as its collateral covers) and receive its collateral with the
    venue's liquidation incentive (Morpho Blue)."""

    operation: Literal["liquidate"] = "liquidate"
    market: MarketRef
    borrower: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:\-]{1,80}$")]
    amount: Amount | MaxOr = "max"


class Stake(InstructionBase):
    """Stake ``amount`` of ``asset`` (ETH -> stETH), or wrap (stETH -> wstETH) when ``receive`` says so."""

    operation: Literal["stake"] = "stake"
    asset: Token = "ETH"
    amount: Amount
    receive: Token | None = Field(default=None, description="token to end with, e.g. 'stETH' or 'wstETH'")


class Unstake(InstructionBase):
    """Unstake: ``request`` a withdrawal, ``claim`` a finalised one, or ``unwrap`` (wstETH -> stETH)."""

    operation: Literal["unstake"] = "unstake"
    asset: Token = "stETH"
    amount: Amount | None = None
    action: Literal["request", "claim", "unwrap"] = "request"
    request_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9:_\-]{1,80}$")] | None = None

    @model_validator(mode="after")
    def _check_action(self) -> Unstake:
        if self.action in ("request", "unwrap") and self.amount is None:
            raise ValueError(f"amount: required for action {self.action!r}")
        if self.action == "claim" and self.request_id is None:
            raise ValueError("request_id: required to claim a withdrawal")
        return self


class AddLiquidity(InstructionBase):
    """Add liquidity to ``pool``: ``amounts`` by token; v3 positions take a tick range."""

    operation: Literal["add_liquidity"] = "add_liquidity"
    pool: PoolId
    amounts: dict[Token, NonNegativeAmount]
    tick_lower: int | None = None
    tick_upper: int | None = None
    min_lp_out: NonNegativeAmount | None = None

    @model_validator(mode="after")
    def _check_amounts(self) -> AddLiquidity:
        if not self.amounts or not any(v > 0 for v in self.amounts.values()):
            raise ValueError("amounts: at least one positive amount is required")
        if (self.tick_lower is None) != (self.tick_upper is None):
            raise ValueError("tick_upper: give both tick_lower and tick_upper, or neither")
        if self.tick_lower is not None and self.tick_upper is not None and self.tick_lower >= self.tick_upper:
            raise ValueError("tick_upper: must be above tick_lower")
        return self


class RemoveLiquidity(InstructionBase):
    """Remove liquidity: ``lp_amount`` LP tokens (or ``"max"``), or a v3 ``position_id``."""

    operation: Literal["remove_liquidity"] = "remove_liquidity"
    pool: PoolId
    lp_amount: Amount | MaxOr | None = None
    position_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9:_\-]{1,80}$")] | None = None
    min_amounts: dict[Token, NonNegativeAmount] | None = None

    @model_validator(mode="after")
    def _check_target(self) -> RemoveLiquidity:
        if self.lp_amount is None and self.position_id is None:
            raise ValueError("lp_amount: give lp_amount or position_id")
        return self


class Transfer(InstructionBase):
    """Move ``amount`` of ``asset`` between two accounts of one venue (e.g. spot -> futures)."""

    operation: Literal["transfer"] = "transfer"
    asset: Token
    amount: Amount
    from_account: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]
    to_account: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]

    @model_validator(mode="after")
    def _check_accounts(self) -> Transfer:
        if self.from_account == self.to_account:
            raise ValueError("to_account: must differ from from_account")
        return self


class CancelOrder(InstructionBase):
    """Cancel an open order by ``order_id`` (the venue's id or the order's ``client_id``)."""

    operation: Literal["cancel_order"] = "cancel_order"
    order_id: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    symbol: SpotSymbol | PerpSymbol | None = None


class ModifyOrder(InstructionBase):
    """Change the ``amount`` and/or ``price`` of an open limit order."""

    operation: Literal["modify_order"] = "modify_order"
    order_id: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    symbol: SpotSymbol | PerpSymbol | None = None
    amount: Amount | None = None
    price: Price | None = None

    @model_validator(mode="after")
    def _check_change(self) -> ModifyOrder:
        if self.amount is None and self.price is None:
            raise ValueError("amount: give a new amount and/or price")
        return self


class FlashLoan(BaseModel):
    """A flash loan wrapped around an atomic bundle: borrowed before the first step, repaid with its fee after."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    venue: VenueName = "aave"
    asset: Token
    amount: Amount


Step = Annotated[
    SpotTrade | PerpTrade | Swap | Supply | Withdraw | Borrow | Repay | Stake | Unstake | AddLiquidity
    | RemoveLiquidity | Transfer | CancelOrder | ModifyOrder | Liquidate,
    Field(discriminator="operation"),
]


class Atomic(InstructionBase):
    """An ordered list of ``steps`` executed all or nothing, optionally inside a ``flash_loan``.

    ``venue`` names the executor in live mode (a venue implementing ``execute_atomic``, e.g. ``aave``
    for a flash-loan bundle in one transaction); ``"atomic"`` means the core runs the steps itself
    (backtest). ``min_health_factor`` is a post-condition checked on ``health_factor_venue``.
    """

    operation: Literal["atomic"] = "atomic"
    venue: VenueName = "atomic"
    steps: Annotated[list[Step], Field(min_length=1, max_length=64)]
    flash_loan: FlashLoan | None = None
    min_health_factor: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None
    health_factor_venue: VenueName = "aave"


Instruction: TypeAlias = Annotated[
    SpotTrade | PerpTrade | Swap | Supply | Withdraw | Borrow | Repay | Stake | Unstake | AddLiquidity
    | RemoveLiquidity | Transfer | CancelOrder | ModifyOrder | Atomic | Liquidate,
    Field(discriminator="operation"),
]

InstructionModel: TypeAlias = (
    SpotTrade | PerpTrade | Swap | Supply | Withdraw | Borrow | Repay | Stake | Unstake | AddLiquidity
    | RemoveLiquidity | Transfer | CancelOrder | ModifyOrder | Atomic | Liquidate
)

#: operation name -> model class (the contract values of ``operation``)
MODELS: dict[str, type[InstructionBase]] = {
    m.model_fields["operation"].default: m
    for m in (SpotTrade, PerpTrade, Swap, Supply, Withdraw, Borrow, Repay, Stake, Unstake, AddLiquidity,
              RemoveLiquidity, Transfer, CancelOrder, ModifyOrder, Atomic, Liquidate)
}
OPERATIONS: tuple[str, ...] = tuple(MODELS)
for _model in (*MODELS.values(), FlashLoan):
    _make_final(_model)  # type: ignore[arg-type]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Instruction)
#: the adapter's own validator's ``validate_python`` (``TypeAdapter.validate_python`` without its wrapper's frame)
_VALIDATE: Any = getattr(getattr(_ADAPTER, "validator", None), "validate_python", None) or _ADAPTER.validate_python


_PATTERN_HINTS = {
    "symbol": "expected a ccxt unified symbol: spot 'ETH/USDT', linear perpetual 'ETH/USDT:USDT'",
    "venue": "expected a lowercase venue id such as 'binance'",
    "client_id": "expected 1-64 characters from A-Z a-z 0-9 . _ : / -",
    "token_in": "expected a token symbol such as 'WETH'",
    "token_out": "expected a token symbol such as 'USDC'",
    "asset": "expected a token symbol such as 'wstETH'",
}


def _error_from_validation(exc: ValidationError) -> InstructionError:
    errs = exc.errors(include_url=False)
    first = errs[0]
    loc = [str(p) for p in first["loc"]]
    # drop the discriminator tag pydantic inserts ("spot_trade", "function-after[...]")
    loc = [p for p in loc if p not in MODELS]
    loc = [p for p in loc if not p.startswith(("function-", "constrained-", "lax-", "decimal"))]
    msg = str(first["msg"])
    if first["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
        if ":" in msg and not loc:
            field, _, reason = msg.partition(":")
            return InstructionValidationError(field.strip(), reason.strip(), errs)  # type: ignore[arg-type]
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        field = ".".join(loc) or "operation"
        if not field.endswith("operation"):
            field = f"{field}.operation" if field else "operation"
        if first["type"] == "union_tag_invalid":
            tag = first.get("ctx", {}).get("tag")
            return UnknownOperationError(field, f"unknown operation {short_repr(tag)}; known: {', '.join(OPERATIONS)}")
        return InstructionValidationError(field, "missing: every instruction needs an operation", errs)  # type: ignore[arg-type]
    field = ".".join(loc) or "instruction"
    inp = first.get("input")
    if first["type"] == "string_pattern_mismatch" and loc:
        msg = _PATTERN_HINTS.get(loc[-1], msg)
    reason = msg if first["type"] == "missing" else f"{msg} (got {short_repr(inp)})"
    return InstructionValidationError(field, reason, errs)  # type: ignore[arg-type]


def check_operation_tags(obj: dict[str, Any], nested: str = "steps") -> None:
    """Refuse an ``operation`` (or, in the list ``nested``, an item's) that is not a string before pydantic sees it.

    pydantic names a bad union tag with ``str(tag)``, which recurses once per nesting level of a list or dict tag: a
    deep one would run to the interpreter's recursion limit, where a garbage collection's finalizers fail."""
    tag = obj.get("operation", "")
    if type(tag) is not str:
        _unknown_operation("operation", tag)
    items = obj.get(nested)
    if type(items) is list:
        for i, item in enumerate(items):
            if isinstance(item, dict) and type(tag := item.get("operation", "")) is not str:
                _unknown_operation(f"{nested}.{i}.operation", tag)


def _unknown_operation(field: str, tag: Any) -> None:
    raise UnknownOperationError(field, f"unknown operation {short_repr(tag)}; known: {', '.join(OPERATIONS)}")


def load_json_object(obj: Any) -> dict[str, Any]:
    """``obj`` itself if a dict; a JSON text (str or UTF-8 bytes) decoded to one. Too large, too deep, invalid or
    not an object: :class:`InstructionValidationError` on ``instruction`` (the decoder never recurses to the limit)."""
    if isinstance(obj, str | bytes):
        if len(obj) > MAX_JSON_CHARS:
            raise InstructionValidationError(
                "instruction", f"JSON text too large: {len(obj)} characters (limit {MAX_JSON_CHARS})")
        try:
            text = obj.decode("utf-8") if isinstance(obj, bytes) else obj
            if _json_depth(text) > MAX_JSON_DEPTH:
                raise InstructionValidationError("instruction", f"JSON nested too deeply (limit {MAX_JSON_DEPTH})")
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise InstructionValidationError("instruction", f"not valid JSON: {e.msg}") from None
        except RecursionError:
            raise InstructionValidationError("instruction", "JSON nested too deeply") from None
        except InstructionValidationError:
            raise
        except ValueError as e:  # not UTF-8 bytes, an integer with too many digits ...
            raise InstructionValidationError("instruction", f"not valid JSON: {short_repr(str(e))}") from None
    if not isinstance(obj, dict):
        raise InstructionValidationError("instruction", f"expected an object, got {type(obj).__name__}")
    return obj


def parse_instruction(obj: InstructionBase | dict[str, Any] | str | bytes) -> InstructionModel:
    """Return a validated instruction model from a model, a dict or a JSON text.

    Raises :class:`InstructionValidationError` (or :class:`UnknownOperationError`) naming the field.
    """
    if type(obj) is dict and type(obj.get("operation")) is str and "steps" not in obj:
        pass  # the common case, a dict of one operation: nothing for load_json_object / check_operation_tags to do
    elif isinstance(obj, InstructionBase):
        return obj  # type: ignore[return-value]
    else:
        obj = load_json_object(obj)
        check_operation_tags(obj)
    try:
        return _VALIDATE(obj)  # type: ignore[no-any-return]
    except ValidationError as e:
        raise _error_from_validation(e) from None
    except RecursionError:
        raise InstructionValidationError("instruction", "nested too deeply") from None


def instruction_to_dict(instruction: InstructionBase) -> dict[str, Any]:
    """JSON-ready dict of an instruction (Decimals as strings)."""
    return instruction.model_dump(mode="json", exclude_none=True)


__all__ = [
    "MAX_AMOUNT", "MODELS", "OPERATIONS", "AddLiquidity", "Atomic", "Borrow", "CancelOrder", "FlashLoan",
    "Instruction", "InstructionBase", "InstructionModel", "ModifyOrder", "PerpTrade", "RemoveLiquidity",
    "Repay", "SpotTrade", "Stake", "Supply", "Swap", "Transfer", "Unstake", "Withdraw", "datetime",
    "instruction_to_dict", "parse_instruction",
]
