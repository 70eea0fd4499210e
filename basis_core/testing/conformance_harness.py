"""The conformance kit's runner: find a venue (entry-point name or class), build isolated backtest
managers on the kit's market, run the venue's examples, and probe imports in a fresh interpreter.

No pytest here: the harness can drive a venue from a script too::

    h = Harness(resolve_target("binance"))
    m = h.manager()
    deltas = h.run(m, h.protocol.examples["spot_trade"][0])
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pandas as pd

from basis_core.deltas import ExecutionDeltas
from basis_core.discovery import ENTRY_POINT_GROUP
from basis_core.errors import DuplicateVenueError, UnknownVenueError
from basis_core.instructions import parse_instruction
from basis_core.testing.conformance_protocol import (
    LIVE_ONLY_MODULES,
    ConformanceExample,
    VenueProtocol,
    market_for,
    read_protocol,
)


@dataclass(frozen=True)
class VenueTarget:
    """A venue under test: its class, its venue name and where it came from."""

    name: str
    cls: type
    distribution: str | None = None
    entry_point: str | None = None

    def spec(self) -> dict[str, Any]:
        """JSON-ready description a fresh interpreter can load the class from."""
        mod = sys.modules.get(self.cls.__module__)
        return {"name": self.name, "entry_point": self.entry_point, "module": self.cls.__module__,
                "qualname": self.cls.__qualname__, "file": getattr(mod, "__file__", None)}


def _entry_points(name: str | None = None) -> list[Any]:
    from importlib.metadata import entry_points
    eps = list(entry_points(group=ENTRY_POINT_GROUP))
    seen: dict[tuple[str, str], Any] = {}
    for ep in eps:  # one distribution found twice on sys.path counts once
        seen.setdefault((ep.name, ep.value), ep)
    return [ep for ep in seen.values() if name is None or ep.name == name]


def installed_venue_names() -> list[str]:
    """Names of every venue entry point installed in this environment."""
    return sorted({ep.name for ep in _entry_points()})


def resolve_target(venue: str | type | VenueTarget) -> VenueTarget:
    """A :class:`VenueTarget` from an installed venue name (entry point) or a venue class.

    Raises :class:`UnknownVenueError` (name not installed) or :class:`DuplicateVenueError`.
    """
    if isinstance(venue, VenueTarget):
        return venue
    if isinstance(venue, type):
        return VenueTarget(getattr(venue, "name", "") or venue.__name__, venue)
    return _resolve_name(venue)


@lru_cache(maxsize=64)
def _resolve_name(name: str) -> VenueTarget:
    eps = _entry_points(name)
    if not eps:
        raise UnknownVenueError(name, installed_venue_names())
    if len({ep.value for ep in eps}) > 1:
        raise DuplicateVenueError(name, [str(ep.dist.name if ep.dist else ep.value) for ep in eps])
    ep = eps[0]
    dist = ep.dist.metadata["Name"] if ep.dist is not None else None
    return VenueTarget(name, ep.load(), dist, ep.value)


def fake_credentials() -> dict[str, str]:
    """Random, well-formed fake credentials (a 32-byte hex private key, key / secret strings)."""
    return {"api_key": "conf-key-" + secrets.token_hex(12), "api_secret": "conf-secret-" + secrets.token_hex(16),
            "private_key": "0x" + secrets.token_hex(32)}


@dataclass
class Harness:
    """Builds managers for one venue and runs its conformance examples."""

    target: VenueTarget
    protocol: VenueProtocol = field(init=False)
    market: Any = field(init=False)

    def __post_init__(self) -> None:
        self.protocol = read_protocol(self.target.cls)
        self.market = market_for(self.target.cls)

    @property
    def name(self) -> str:
        return str(getattr(self.target.cls, "name", "") or self.target.name)

    def config(self, *, mode: str = "backtest", credentials: Mapping[str, str] | None = None,
               balances: Mapping[str, Decimal] | None = None) -> dict[str, Any]:
        venue_cfg = {**self.protocol.settings, **(credentials or {})}
        return {"execution_mode": mode, "autoload": False,
                "initial_balances": dict(self.protocol.balances if balances is None else balances),
                "venue_config": {self.name: venue_cfg}}

    def manager(self, *, mode: str = "backtest", credentials: Mapping[str, str] | None = None,
                balances: Mapping[str, Decimal] | None = None) -> Any:
        """A fresh manager with only this venue registered (no autoload), on the kit's market."""
        from basis_core.manager import ExecutionInterfaceManager
        cfg = self.config(mode=mode, credentials=credentials, balances=balances)
        return ExecutionInterfaceManager(cfg, data_provider=self.market if mode == "backtest" else None,
                                         execution_mode=mode, autoload=False,  # type: ignore[arg-type]
                                         plugins=[self.target.cls])

    def venue(self, manager: Any) -> Any:
        """The venue object registered in ``manager``."""
        return manager.venue(self.name)

    def prepare(self, manager: Any, example: ConformanceExample) -> pd.Timestamp:
        """Run the example's setup and wait; return the timestamp its instruction runs at."""
        ts = self.protocol.timestamp
        for step in example.setup:
            manager.execute(ts, step)
        if example.wait:
            ts = ts + pd.Timedelta(example.wait)
            manager.advance_to(ts)
        return ts

    def run(self, manager: Any, example: ConformanceExample) -> ExecutionDeltas:
        """Setup, wait, then execute the example's instruction."""
        ts = self.prepare(manager, example)
        result: ExecutionDeltas = manager.execute(ts, example.instruction)
        return result

    def cases(self) -> list[tuple[str, int, ConformanceExample]]:
        """(operation, index, example) for every declared example."""
        return [(op, i, ex) for op, exs in self.protocol.examples.items() for i, ex in enumerate(exs)]

    @staticmethod
    def parse(d: Mapping[str, Any]) -> Any:
        return parse_instruction(dict(d))


# -- a fresh interpreter: which modules does a backtest import? -------------------------------------------
_PROBE = "from basis_core.testing.conformance_harness import _probe_main; _probe_main()"


def probe_imports(target: VenueTarget, *, live: bool = False, timeout: float = 120.0) -> dict[str, Any]:
    """Run every example in a fresh interpreter (backtest), then optionally build a live-mode manager with
    fake credentials; return ``{"modules": [live-only modules imported], "errors": [...]}``.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps({**target.spec(), "live": live})],
                          capture_output=True, text=True, timeout=timeout, env=env, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"modules": [], "errors": [f"probe failed (exit {proc.returncode}): {proc.stderr[-2000:]}"],
                "crashed": True}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _load_class(spec: Mapping[str, Any]) -> type:
    if spec.get("entry_point"):
        return resolve_target(str(spec["name"])).cls
    obj: Any
    try:
        obj = importlib.import_module(spec["module"])
    except ImportError:
        path = spec.get("file")
        if not path:
            raise
        modspec = importlib.util.spec_from_file_location(f"_conformance_probe_{spec['name']}", path)
        assert modspec is not None and modspec.loader is not None
        obj = importlib.util.module_from_spec(modspec)
        sys.modules[modspec.name] = obj
        modspec.loader.exec_module(obj)
    for part in str(spec["qualname"]).split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


def live_modules_loaded() -> list[str]:
    """Live-only modules (ccxt, web3) present in ``sys.modules``."""
    return sorted(m for m in sys.modules if m.split(".")[0] in LIVE_ONLY_MODULES)


def _probe_main() -> None:
    spec = json.loads(sys.argv[1])
    errors: list[str] = []
    found: dict[str, list[str]] = {}
    h = Harness(VenueTarget(spec["name"], _load_class(spec)))
    found["import"] = live_modules_loaded()
    for op, i, ex in h.cases():
        try:
            m = h.manager()
            h.run(m, ex)
            later = h.protocol.timestamp + pd.Timedelta("1D")
            m.advance_to(later)
            if has_impl(m, h.name, "get_balances"):
                m.get_balances(later, h.name)
        except Exception as e:  # reported, the import check still runs
            errors.append(f"{op}[{i}]: {type(e).__name__}: {e}")
    found["backtest"] = live_modules_loaded()
    if spec.get("live"):
        try:
            m = h.manager(mode="live", credentials=fake_credentials())
            h.venue(m).venue_info()
        except Exception as e:
            errors.append(f"live-mode manager: {type(e).__name__}: {e}")
        found["live manager"] = live_modules_loaded()
    mods = sorted({m for v in found.values() for m in v})
    first = next((stage for stage, v in found.items() if v), None)
    print(json.dumps({"modules": mods, "first_stage": first, "errors": errors}))


def has_impl(manager: Any, venue: str, hook: str) -> bool:
    """True if ``venue`` (registered in ``manager``) implements ``hook``."""
    obj = manager.venue(venue)
    return any(i.plugin is obj for i in getattr(manager.pm.hook, hook).get_hookimpls())


__all__ = ["Harness", "VenueTarget", "fake_credentials", "has_impl", "installed_venue_names", "live_modules_loaded",
           "probe_imports", "resolve_target"]
