"""Configuration (pydantic-settings, prefix ``BASIS_``), loadable from YAML or TOML.

Environment: ``BASIS_EXECUTION_MODE`` (backtest | live), ``BASIS_VENUES=binance,aave`` (allow-list),
``BASIS_BLOCKED_VENUES``, ``BASIS_AUTOLOAD``, ``BASIS_MAX_NOTIONAL``, ``BASIS_MAX_RETRY_ATTEMPTS``,
``BASIS_RETRY_DELAY_SECONDS``, ``BASIS_JOURNAL_PATH``. Venue credentials per venue:
``BASIS_VENUE_CONFIG__BINANCE__API_KEY`` etc., or ``secrets_file`` (a YAML / TOML / .env file).
Credentials are ``SecretStr``: they never appear in reprs, logs or errors.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from basis_core.errors import ConfigError

ExecutionMode = Literal["backtest", "live"]


class VenueSettings(BaseModel):
    """Settings of one venue. Unknown keys go to ``options`` for the plugin to validate."""

    model_config = ConfigDict(extra="allow", frozen=False)

    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    private_key: SecretStr | None = None
    wallet_address: str | None = None
    base_url: str | None = Field(default=None, description="override the venue's API base (emulators)")
    rpc_url: str | None = None
    chain: str = "ethereum"
    deployment: str | None = Field(default=None, description="deployment table name (mainnet, local ...)")
    timeout_ms: int = 10_000
    enable_rate_limit: bool = True
    fees: dict[str, Decimal] = Field(default_factory=dict)

    @property
    def options(self) -> dict[str, Any]:
        """Extra keys not declared above (venue-specific)."""
        return dict(self.model_extra or {})


class BasisSettings(BaseSettings):
    """Top-level settings of an ExecutionInterfaceManager."""

    model_config = SettingsConfigDict(env_prefix="BASIS_", env_nested_delimiter="__", extra="forbid")

    execution_mode: ExecutionMode = "backtest"
    venues: Annotated[list[str] | None, NoDecode] = Field(default=None, description="allow-list of venue ids")
    blocked_venues: Annotated[list[str], NoDecode] = Field(default_factory=list)
    autoload: bool = True
    max_notional: Decimal | None = Field(default=None, gt=0, description="USD limit per instruction")
    transit_routes: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="transfer routes between venues (basis_core.transit.routes), by "
                                          "'venue:kind->venue:kind'")
    min_corridor_move: Decimal | None = Field(
        default=None, gt=0, lt=1, description="backtest pre-trade check: refuse an instruction after which an ETH "
                                              "move smaller than this fraction liquidates a leg (basis_core.risk)")
    max_retry_attempts: int = Field(default=3, ge=1, le=10)
    retry_delay_seconds: float = Field(default=0.1, ge=0)
    journal_path: Path | None = None
    secrets_file: Path | None = None
    venue_config: dict[str, VenueSettings] = Field(default_factory=dict)
    initial_balances: dict[str, Decimal] = Field(default_factory=dict)
    history_limit: int | None = Field(
        default=None, ge=0, description="execution-history records kept in memory once their consumers took them "
                                        "(basis_core.history); None: the mode's default: all in a backtest, "
                                        "basis_core.run.RUN_HISTORY_LIMIT in `basis run`. With a limit, the "
                                        "results remembered by client id are bounded too (the latest "
                                        "max(limit, basis_core.manager.DONE_KEPT_MIN); older ids: the venue's "
                                        "journal)")

    @field_validator("venues", "blocked_venues", mode="before")
    @classmethod
    def _split_csv(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    def venue(self, name: str) -> VenueSettings:
        """Settings of venue ``name`` (defaults when absent), with secrets from ``secrets_file`` merged in."""
        vs = self.venue_config.get(name)
        if vs is None:
            vs = VenueSettings()
        if self.secrets_file is not None:
            extra = _read_mapping(self.secrets_file).get(name) or {}
            if extra:
                merged = {**{k: v for k, v in vs.model_dump().items() if v is not None}, **extra}
                vs = VenueSettings.model_validate(merged)
        return vs

    def names_venue(self, name: str) -> bool:
        """Whether the run names venue ``name`` explicitly (a ``venue_config`` entry or the ``venues``
        allow-list), as opposed to merely discovering it."""
        return name in (self.venue_config or {}) or (self.venues is not None and name in self.venues)

    def __repr__(self) -> str:  # keep reprs short; SecretStr already masks secrets
        return f"BasisSettings(execution_mode={self.execution_mode!r}, venues={self.venues!r})"


def _read_mapping(path: Path) -> dict[str, Any]:
    text = Path(path).read_text()
    if str(path).endswith(".toml"):
        data: Any = tomllib.loads(text)
    else:
        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load_settings(source: str | Path | dict[str, Any] | BasisSettings | None = None, **overrides: Any) -> BasisSettings:
    """Settings from a YAML / TOML file, a dict, or the environment (``None``); ``overrides`` win.

    Raises :class:`ConfigError` naming the setting.
    """
    if isinstance(source, BasisSettings):
        if not overrides:
            return source
        data: dict[str, Any] = {**source.model_dump(exclude_unset=True), **overrides}
    elif source is None:
        data = dict(overrides)
    elif isinstance(source, dict):
        data = {**source, **overrides}
    else:
        data = {**_read_mapping(Path(source)), **overrides}
    try:
        return BasisSettings(**data)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or "settings"
        raise ConfigError(f"{loc}: {err['msg']}") from None
