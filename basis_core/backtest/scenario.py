"""Backtest scenarios: a YAML file validated by pydantic, with errors that name the line and the field.

A scenario says what to simulate: the market (the seeded synthetic market, or a directory of real
files), the period and step, the initial balances by instrument key, and what to do: built-in
``strategies`` with parameters and / or a ``schedule`` of instructions by timestamp. Example::

    name: carry-demo
    market: {source: synthetic, seed: 7}          # or {source: data_dir, data_dir: ../shared/data}
    period: {start: 2025-01-01T00:00:00Z, end: 2025-03-01T00:00:00Z, step: 1h}
    initial_balances:
      binance:spot:USDT: 100000
    strategies:
      - name: cash_and_carry
        params: {capital: 90000}
    schedule:
      - at: 2025-01-02T00:00:00Z
        instruction: {venue: binance, operation: spot_trade, symbol: ETH/USDT, side: buy, amount: 1}

:func:`load_scenario` reads a path, a YAML text or a dict and raises
:class:`~basis_core.errors.ScenarioError` (``line``, ``field``, ``reason``) for the first problem found.
Numbers are read as exact ``Decimal`` (``0.1`` stays 0.1); timestamps must carry a timezone (``Z``)
or be a bare date (taken as UTC midnight).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from basis_core.errors import BasisError, ScenarioError, bounded, short_repr
from basis_core.instructions import InstructionModel, parse_instruction
from basis_core.timeutil import to_utc

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_time(v: Any) -> pd.Timestamp:
    if isinstance(v, pd.Timestamp | str) or hasattr(v, "tzinfo"):
        if isinstance(v, str) and _DATE_ONLY.match(v.strip()):
            v = v.strip() + "T00:00:00Z"
        try:
            return to_utc(v)
        except BasisError as e:
            raise ValueError(str(e).removeprefix("timestamp: ")) from None
    raise ValueError(f"expected an ISO 8601 timestamp such as 2025-01-01T00:00:00Z, got {short_repr(v)}")


def _parse_step(v: Any) -> pd.Timedelta:
    if isinstance(v, pd.Timedelta):
        td = v
    else:
        try:
            td = pd.Timedelta(str(v).strip()[:64])
        except (ValueError, TypeError, OverflowError):
            raise ValueError(f"expected a duration such as 1h, 15min, 8h or 1d, got {short_repr(v)}") from None
    if td is pd.NaT or td <= pd.Timedelta(0):
        raise ValueError(f"must be positive, got {short_repr(v)}")
    return td


Timestamp = Annotated[pd.Timestamp, BeforeValidator(_parse_time)]
Step = Annotated[pd.Timedelta, BeforeValidator(_parse_step)]


def _check_instrument_keys(v: dict[str, Decimal]) -> dict[str, Decimal]:
    for k in v:
        if k.count(":") < 2 or any(not p for p in k.split(":", 2)):
            raise ValueError(f"{short_repr(k)} is not an instrument key of the form venue:kind:asset "
                             "(e.g. binance:spot:USDT, ethereum:wallet:ETH)")
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)


class MarketSpec(_Model):
    """Where prices come from."""

    source: Literal["synthetic", "data_dir"] = Field(
        "synthetic", description="'synthetic': the project's seeded synthetic market; 'data_dir': real files")
    seed: int = Field(7, ge=0, description="seed of the synthetic market (same seed, same market)")
    data_dir: Path | None = Field(None, description="directory of real data files (the formats of ../shared/data)")

    @model_validator(mode="after")
    def _check(self) -> MarketSpec:
        if self.source == "data_dir" and self.data_dir is None:
            raise ValueError("data_dir: required when source is 'data_dir'")
        return self


class PeriodSpec(_Model):
    """The simulated period: ``start`` .. ``end`` inclusive, one step every ``step``."""

    start: Timestamp | None = Field(None, description="first step (default: the market's first row)")
    end: Timestamp | None = Field(None, description="last step (default: the market's last row)")
    step: Step = Field(pd.Timedelta("1h"), description="time between steps, e.g. 1h, 15min, 1d")

    @model_validator(mode="after")
    def _check(self) -> PeriodSpec:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end: must be after start")
        return self


class StrategySpec(_Model):
    """A strategy and its parameters (see :mod:`basis_core.backtest.strategies.loader` for the names)."""

    name: str = Field(description="a built-in strategy (cash_and_carry, staked_basis, leveraged_staking_loop), "
                      "path/to/file.py:ClassName (relative to the scenario file), package.module:ClassName, "
                      "or an entry point of the group basis_core.strategies")
    params: dict[str, Any] = Field(default_factory=dict, description="the strategy's parameters")
    required: bool = Field(False, description="fail the run instead of skipping when its venues are missing")
    balances: dict[str, Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="capital of this strategy: added to the initial balances only when the strategy runs")

    @field_validator("balances")
    @classmethod
    def _check_keys(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        return _check_instrument_keys(v)


class ScheduledInstruction(_Model):
    """One instruction executed at ``at``."""

    at: Timestamp
    instruction: dict[str, Any]

    @property
    def parsed(self) -> InstructionModel:
        return parse_instruction(self.instruction)


class ReportSpec(_Model):
    history_format: Literal["parquet", "csv"] = Field("parquet", description="format of history / executions")


class Scenario(_Model):
    """A backtest scenario (see the module docstring for the YAML format)."""

    name: str = Field("scenario", pattern=r"^[A-Za-z0-9._\-]{1,64}$")
    description: str = ""
    market: MarketSpec = Field(default_factory=MarketSpec)  # type: ignore[arg-type]
    period: PeriodSpec = Field(default_factory=PeriodSpec)  # type: ignore[arg-type]
    initial_balances: dict[str, Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]] = Field(default_factory=dict)
    venues: list[str] | None = Field(None, description="allow-list of venues (default: every installed venue)")
    venue_config: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-venue settings")
    max_notional: Decimal | None = Field(None, gt=0, description="USD risk limit per instruction")
    settings: dict[str, Any] = Field(default_factory=dict, description="more manager settings (BasisSettings), "
                                                                      "e.g. transit_routes, min_corridor_move")
    strategies: list[StrategySpec] = Field(default_factory=list)
    schedule: list[ScheduledInstruction] = Field(default_factory=list)
    on_error: Literal["continue", "stop"] = Field(
        "continue", description="a scheduled instruction that fails: record it and go on, or stop the run")
    report: ReportSpec = Field(default_factory=ReportSpec)  # type: ignore[arg-type]
    source_path: Path | None = Field(None, exclude=True, description="file the scenario was read from")

    @model_validator(mode="before")
    @classmethod
    def _single_strategy(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "strategy" in data:
            data = dict(data)
            one = data.pop("strategy")
            if "strategies" in data:
                raise ValueError("strategy: give either 'strategy' or 'strategies', not both")
            data["strategies"] = [one] if one is not None else []
        return data

    @field_validator("initial_balances")
    @classmethod
    def _check_keys(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        return _check_instrument_keys(v)

    @field_validator("schedule")
    @classmethod
    def _sort_schedule(cls, v: list[ScheduledInstruction]) -> list[ScheduledInstruction]:
        return sorted(v, key=lambda s: s.at.value)


# -- YAML with exact numbers and line numbers --------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """SafeLoader that reads floats as Decimal and keeps timestamps as strings."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = str(loader.construct_scalar(node)).replace("_", "")
    low = text.lower()
    if low in (".inf", "+.inf", "-.inf", ".nan"):
        return float(low.replace(".", ""))
    return Decimal(text)


def _as_str(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_str)


def _line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """1-based line of the node at ``loc`` (or of the deepest existing ancestor)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    cur: yaml.Node = node
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(cur, yaml.MappingNode):
            for k, v in cur.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    nxt = v
                    line = k.start_mark.line + 1
                    break
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(cur.value):
            nxt = cur.value[part]
            line = nxt.start_mark.line + 1
        if nxt is None:
            break
        cur = nxt
        if isinstance(cur, yaml.ScalarNode | yaml.SequenceNode):
            line = cur.start_mark.line + 1
    return line


def _check_duplicates(node: yaml.Node | None, where: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                if k.value in seen:
                    raise _make_error(where, k.start_mark.line + 1, k.value,
                                      f"duplicate key (first at line {seen[k.value]})")
                seen[k.value] = k.start_mark.line + 1
            _check_duplicates(v, where)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(item, where)


def _field_name(loc: Sequence[Any]) -> str:
    out = ""
    for p in loc:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "scenario"


def _make_error(where: str, line: int | None, field: str, reason: str) -> ScenarioError:
    """A ScenarioError ``where:line: field: reason`` with attributes line, field, reason, source."""
    prefix = f"{where}:{line}" if line is not None else where
    err = ScenarioError(f"{prefix}: {field}: {reason}")
    err.line = line  # type: ignore[attr-defined]
    err.field = field  # type: ignore[attr-defined]
    err.reason = reason  # type: ignore[attr-defined]
    err.source = where  # type: ignore[attr-defined]
    return err


def _error(where: str, node: yaml.Node | None, loc: Sequence[Any], reason: str) -> ScenarioError:
    return _make_error(where, _line_of(node, loc), _field_name(loc), reason)


def _clean_loc(loc: Sequence[Any]) -> list[Any]:
    return [p for p in loc if not (isinstance(p, str) and p.startswith(("function-", "constrained-", "lax-")))]


def _pydantic_reason(err: Mapping[str, Any]) -> tuple[list[Any], str]:
    loc = _clean_loc(err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "value_error" and ":" in msg:
        head, _, rest = msg.partition(":")
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", head.strip()):
            loc = [*loc, *head.strip().split(".")]
            msg = rest.strip()
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] not in ("missing", "value_error") and "input" in err:
        inp = err["input"]
        shown = (short_repr(str(inp)) if isinstance(inp, Decimal | int | float) and not isinstance(inp, bool)
                 else short_repr(inp))
        msg = f"{msg} (got {shown})"
    return loc, msg


#: Largest scenario text accepted (characters).
MAX_SCENARIO_CHARS = 20_000_000
#: Deepest nesting of YAML sequences / mappings accepted in a scenario text.
MAX_SCENARIO_DEPTH = 64


def _yaml_depth(text: str) -> int:
    """The deepest nesting of sequences / mappings in ``text``, counted from the parser's events without composing:
    PyYAML's composer recurses once per level, and reaching the interpreter's recursion limit is not a safe way to
    find out (a garbage collection that runs there cannot run finalizers)."""
    depth = deepest = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_SCENARIO_DEPTH:
                    return deepest
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return deepest


def _value_depth(value: Any) -> int:
    """Nesting depth of mappings and lists in ``value``, counted without recursion; stops past the limit."""
    deepest, todo = 0, [(value, 1)]
    while todo and deepest <= MAX_SCENARIO_DEPTH:
        v, d = todo.pop()
        if isinstance(v, Mapping | list | tuple):
            deepest = max(deepest, d)
            todo.extend((x, d + 1) for x in (v.values() if isinstance(v, Mapping) else v))
    return deepest


def load_scenario(source: str | Path | Mapping[str, Any] | Scenario, *, text: str | None = None) -> Scenario:
    """A validated :class:`Scenario` from a file path, a YAML text (``text=``) or a dict.

    Raises :class:`ScenarioError` naming ``file:line: field: reason``; the error has attributes
    ``line`` (1-based, None for dicts), ``field`` and ``reason``. A text larger than
    :data:`MAX_SCENARIO_CHARS` or nested too deeply is refused the same way.
    """
    try:
        return _load_scenario(source, text=text)
    except RecursionError:
        raise ScenarioError("scenario: nested too deeply") from None


def _load_scenario(source: str | Path | Mapping[str, Any] | Scenario, *, text: str | None = None) -> Scenario:
    if isinstance(source, Scenario):
        return source
    node: yaml.Node | None = None
    where = "scenario"
    path: Path | None = None
    if isinstance(source, Mapping):
        if _value_depth(source) > MAX_SCENARIO_DEPTH:
            raise ScenarioError(f"{where}: nested too deeply (limit {MAX_SCENARIO_DEPTH} levels)")
        data: Any = dict(source)
    else:
        if text is None:
            path = Path(source)
            where = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as e:
                raise ScenarioError(f"{where}: cannot read the scenario: {e.strerror or e}") from None
        else:
            where = bounded(str(source), 80) if source else "scenario"
        if len(text) > MAX_SCENARIO_CHARS:
            raise ScenarioError(f"{where}: the scenario is too large: {len(text)} characters "
                                f"(limit {MAX_SCENARIO_CHARS})")
        try:
            if _yaml_depth(text) > MAX_SCENARIO_DEPTH:
                raise ScenarioError(f"{where}: nested too deeply (limit {MAX_SCENARIO_DEPTH} levels)")
            node = yaml.compose(text, Loader=_Loader)
            _check_duplicates(node, where)
            data = yaml.load(text, Loader=_Loader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark is not None else None
            raise _make_error(where, line, "yaml", f"not valid YAML: {e.problem or e}") from None
        except BasisError:
            raise
        except (yaml.YAMLError, ArithmeticError, ValueError) as e:  # unreadable characters, odd scalars
            raise _make_error(where, None, "yaml", f"not valid YAML: {short_repr(str(e))}") from None
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise _error(where, node, [], f"expected a mapping at the top level, got {type(data).__name__}")
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as e:
        loc, msg = _pydantic_reason(e.errors(include_url=False)[0])
        raise _error(where, node, loc, msg) from None
    # deeper checks: strategy parameters against their models, instructions against theirs
    from basis_core.backtest.strategies.loader import load_strategy

    for i, spec in enumerate(sc.strategies):
        try:
            cls = load_strategy(spec.name, base_dir=path.parent if path is not None else None)
        except BasisError as e:
            raise _error(where, node, ["strategies", i, "name"], str(e)) from None
        try:
            cls.Params.model_validate(spec.params)
        except ValidationError as e:
            loc, msg = _pydantic_reason(e.errors(include_url=False)[0])
            raise _error(where, node, ["strategies", i, "params", *loc], msg) from None
    for i, item in enumerate(sc.schedule):
        try:
            item.parsed  # noqa: B018
        except BasisError as e:
            field = getattr(e, "field", "instruction")
            parts: list[Any] = [int(p) if p.isdigit() else p for p in str(field).split(".")]
            if parts == ["instruction"]:
                parts = []
            orig = _orig_index(data, i, item)
            raise _error(where, node, ["schedule", orig, "instruction", *parts],
                         getattr(e, "reason", str(e))) from None
    if path is not None:
        sc = sc.model_copy(update={"source_path": path})
        if sc.market.data_dir is not None and not sc.market.data_dir.is_absolute():
            market = sc.market.model_copy(update={"data_dir": (path.parent / sc.market.data_dir)})
            sc = sc.model_copy(update={"market": market})
    return sc


def _orig_index(data: Any, sorted_index: int, item: ScheduledInstruction) -> int:
    """Index in the file of a schedule item (the model sorts the schedule by time)."""
    raw = data.get("schedule") if isinstance(data, Mapping) else None
    if isinstance(raw, list):
        for j, r in enumerate(raw):
            if isinstance(r, Mapping) and r.get("instruction") == item.instruction:
                return j
    return sorted_index


def default_scenario_path() -> Path:
    """Path of the bundled default scenario (package data)."""
    return Path(__file__).with_name("scenarios") / "default.yaml"


def bundled_scenarios() -> dict[str, Path]:
    """The scenarios shipped with basis-core: name -> path (``default``, ``cash_and_carry``, ...)."""
    return {p.stem: p for p in sorted(Path(__file__).with_name("scenarios").glob("*.yaml"))}


def resolve_scenario(arg: str | Path | None) -> Path:
    """A scenario file from a path, or the name of a bundled scenario (None: the default one).

    Raises ScenarioError when neither exists.
    """
    if arg is None:
        return default_scenario_path()
    path = Path(arg)
    if path.exists():
        return path
    bundled = bundled_scenarios()
    if str(arg) in bundled:
        return bundled[str(arg)]
    raise ScenarioError(f"{arg}: no such scenario file; bundled scenarios: {', '.join(bundled)}")


__all__ = ["MarketSpec", "PeriodSpec", "ReportSpec", "Scenario", "ScheduledInstruction", "StrategySpec",
           "bundled_scenarios", "default_scenario_path", "load_scenario", "resolve_scenario"]
