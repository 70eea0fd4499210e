"""Proof of issue 9: a brand-new venue from the template, installed without touching the core.

``basis new-venue`` generates one plugin per kind into a temporary directory; they are ``pip install``ed
(no deps, no build isolation) into a private environment layered over this one (its own site-packages first,
then this environment's: tests running beside this one on other workers never see the proof venues); then,
in fresh interpreters (so no entry-point cache of this process can help): ``basis venues --json`` lists
them, an instruction is routed to each through the manager, and the generated projects' own tests (the
conformance kit + the simulator tests) pass unmodified. After ``pip uninstall`` the venues are gone and an
instruction for one raises a clear UnknownVenueError. The core is unchanged (its template, its installed
metadata, no artefacts). The install is undone in a finally block.
"""

from __future__ import annotations

import hashlib
import json
import site
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import distribution, distributions
from pathlib import Path

import pytest
from typer.testing import CliRunner

import basis_core
from basis_core.cli import _register, app
from basis_core.cli.new_venue_cmd import generate_venue
from basis_core.errors import ConfigError

KINDS = ("cex", "amm", "lending", "staking")
#: template kind -> venue_info kind
VENUE_KIND = {"cex": "cex", "amm": "dex", "lending": "onchain", "staking": "onchain"}
NAMES = {k: f"zzproof_{k}" for k in KINDS}
DISTS = {k: f"basis-venue-zzproof-{k}" for k in KINDS}
CORE = Path(basis_core.__file__).resolve().parent
INSTRUCTIONS = {
    "cex": {"operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy", "amount": "1"},
    "amm": {"operation": "swap", "token_in": "USDC", "token_out": "WETH", "amount_in": "1000"},
    "lending": {"operation": "supply", "asset": "USDC", "amount": "100"},
    "staking": {"operation": "stake", "asset": "ETH", "amount": "0.5"},
}
BALANCES = {"zzproof_cex:spot:USDT": "10000", "ethereum:wallet:USDC": "10000", "ethereum:wallet:ETH": "1"}

ROUTE_SCRIPT = """
import json, sys
from basis_core import ExecutionInterfaceManager
from basis_core.errors import UnknownVenueError
names, instructions, balances = json.loads(sys.argv[1])
out = {}
m = ExecutionInterfaceManager({"venues": names, "initial_balances": balances})
for name, instr in zip(names, instructions):
    try:
        d = m.execute("2025-06-02T12:00:00Z", {**instr, "venue": name})
        obj = m.venue(name)
        out[name] = {"venue": d.venue, "status": d.status, "positions": {k: str(v) for k, v in d.positions.items()},
                     "module": sys.modules[type(obj).__module__].__file__}
    except UnknownVenueError as e:
        out[name] = {"error": type(e).__name__, "message": str(e), "field": e.field}
print(json.dumps(out))
"""


def _core_state() -> tuple[str, str, list[str]]:
    """What the proof could have changed in the core: the template's files (digest), the core's
    distribution's metadata (digest: pip must not reinstall or alter it), and artefact paths under
    basis_core (answers files, build dirs, egg-info, generated packages). Other files of the tree are left
    out on purpose: developers may edit them while the suite runs."""
    h = hashlib.sha256()
    for p in sorted((CORE / "templates").rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(CORE)).encode())
            h.update(p.read_bytes())
    dist = distribution(basis_core.DISTRIBUTION)
    meta = hashlib.sha256()
    for name in ("METADATA", "PKG-INFO", "entry_points.txt", "RECORD", "SOURCES.txt", "direct_url.json"):
        meta.update(f"{name}:{dist.read_text(name)}".encode())
    artefacts = sorted(str(p.relative_to(CORE)) for p in CORE.rglob("*")
                       if p.name.endswith((".egg-info", ".copier-answers.yml")) or p.name in ("build", "dist")
                       or "zzproof" in p.name)
    return h.hexdigest(), meta.hexdigest() + dist.version, artefacts


def _installed_here(dist: str) -> bool:
    return any(True for _ in distributions(name=dist))


class Env:
    """A private virtual environment layered over this one: its own site-packages (where the proof installs)
    first, then this environment's (through a ``.pth`` that adds them as site dirs, so editable installs work)."""

    def __init__(self, root: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
        self.python = str(root / "bin" / "python")
        self.site = Path(self.run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
        (self.site / "_layered_over_the_test_env.pth").write_text(
            "".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages()))

    def run(self, *args: str, timeout: int = 120, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.python, *args], capture_output=True, text=True, timeout=timeout, check=check,
                              **kw)  # type: ignore[call-overload, no-any-return]

    def installed(self, dist: str) -> bool:
        return any(True for _ in distributions(name=dist, path=[str(self.site)]))

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pip", "--python", self.python, "--disable-pip-version-check",
                               "-q", *args], capture_output=True, text=True, timeout=300, check=False)

    def uninstall_all(self) -> None:
        present = [d for d in DISTS.values() if self.installed(d)]
        if present:
            self.pip("uninstall", "-y", *present)


def _basis_venues(env: Env) -> dict[str, dict[str, object]]:
    out = env.run("-c", "from basis_core.cli import main; main()", "venues", "--json").stdout
    return {v["name"]: v for v in json.loads(out)["venues"]}


def _route(env: Env) -> dict[str, dict[str, object]]:
    names = [NAMES[k] for k in KINDS]
    arg = json.dumps([names, [INSTRUCTIONS[k] for k in KINDS], BALANCES])
    proc = env.run("-c", ROUTE_SCRIPT, arg, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path / "venv")


@pytest.fixture
def generated(tmp_path: Path, env: Env) -> Iterator[dict[str, Path]]:
    """One generated project per kind, installed into the private environment; uninstalled afterwards whatever
    happens."""
    dirs = {k: generate_venue(NAMES[k], k, tmp_path / f"basis-venue-zzproof-{k}") for k in KINDS}
    try:
        res = env.pip("install", "--no-deps", "--no-build-isolation", *(str(d) for d in dirs.values()))
        assert res.returncode == 0, res.stderr[-3000:]
        yield dirs
    finally:
        env.uninstall_all()


def test_a_new_venue_installs_routes_passes_the_kit_and_uninstalls(generated: dict[str, Path], env: Env) -> None:
    before = _core_state()
    assert not any(_installed_here(d) for d in DISTS.values()), "the proof installs into its own environment only"

    listed = _basis_venues(env)
    for k in KINDS:
        assert listed[NAMES[k]]["distribution"] == DISTS[k]
        assert listed[NAMES[k]]["kind"] == VENUE_KIND[k]

    routed = _route(env)
    for k in KINDS:
        r = routed[NAMES[k]]
        assert r["venue"] == NAMES[k] and r["status"] == "filled", r
        assert str(generated[k]) not in str(r["module"]), "the installed copy, not the source tree, must run"
    assert routed["zzproof_cex"]["positions"]["zzproof_cex:spot:ETH"] == "0.999"  # the core's CEX: fee in ETH
    assert routed["zzproof_lending"]["positions"]["zzproof_lending:supplied:USDC"] == "100"
    assert routed["zzproof_staking"]["positions"]["zzproof_staking:staked:ETH"] == "0.5"

    tests = [str(generated[k] / "tests") for k in KINDS]
    proc = env.run("-m", "pytest", "-q", "-rs", "-p", "no:randomly", "-p", "no:cacheprovider",
                   "--import-mode=importlib", *tests, timeout=600, cwd=generated["cex"].parent, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    reasons = [line.split(".py:", 1)[-1] for line in skipped]  # the reason, not the path (a worktree may say "live")
    assert not [r for r in reasons if "zzproof_cex" in r and "live" in r], skipped  # run, not skipped

    env.uninstall_all()
    assert not any(env.installed(d) for d in DISTS.values())
    assert not set(NAMES.values()) & set(_basis_venues(env))
    gone = _route(env)
    for k in KINDS:
        g = gone[NAMES[k]]
        assert g["error"] == "UnknownVenueError" and g["field"] == "venue", g
        assert f"unknown venue '{NAMES[k]}'" in str(g["message"])
        assert f"pip install basis-venue-{NAMES[k]}" in str(g["message"])

    assert _core_state() == before, "generating / installing a venue must not change the core"


# -- the command's own contract ----------------------------------------------------------------------------
def test_new_venue_command_writes_a_project(tmp_path: Path) -> None:
    _register()
    res = CliRunner().invoke(app, ["new-venue", "acme", "--kind", "dex", "--dest", str(tmp_path / "acme")])
    assert res.exit_code == 0, res.output
    root = tmp_path / "acme"
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points."basis_core.venues"]' in pyproject
    assert 'acme = "basis_venue_acme.venue:AcmeVenue"' in pyproject
    assert 'name = "basis-venue-acme"' in pyproject
    venue = (root / "basis_venue_acme" / "venue.py").read_text()
    assert "class AcmeVenue(DEXExecutionInterface)" in venue and "def execute_swap" in venue
    assert (root / "tests" / "test_conformance.py").read_text().count('venue = "acme"') == 1
    assert (root / "basis_venue_acme" / "py.typed").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("Bad-Name",), "must match"),
    (("ok", "--kind", "futures"), "must be one of"),
])
def test_new_venue_command_rejects_bad_input(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    _register()
    res = CliRunner().invoke(app, ["new-venue", *args, "--dest", str(tmp_path / "x")])
    assert res.exit_code == 2 and message in res.output
    assert not (tmp_path / "x").exists()


def test_new_venue_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        generate_venue("acme", "cex", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
