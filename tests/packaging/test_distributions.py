"""Every distribution of the repository is ready for the package index, and they fit together.

Read from the source tree (pyproject.toml, README, LICENSE of the core and of each plugin) and from the
installed metadata. The wheels themselves are built, ``twine check``-ed, installed into a fresh virtual
environment and run by ``.ci/run`` (``.ci/wheels``).
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import distribution, version
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import basis_core

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
DISTS = [ROOT, *PLUGINS]
URL = "https://github.com/basis-execution/basis-execution"
#: what the core must never require: report / plotting libraries live in [report], venue clients in the plugins
NOT_CORE = {"matplotlib", "plotly", "pyarrow", "ccxt", "web3", "eth-account"}
#: client libraries each venue plugin declares itself
PLUGIN_NEEDS = {"binance": {"ccxt"}, "hyperliquid": {"ccxt", "eth-account"}, "uniswap": {"web3", "eth-account"},
                "curve": {"web3", "eth-account"}, "aave": {"web3", "eth-account"}, "lido": {"web3", "eth-account"},
                "morpho": {"web3", "eth-account"}, "etherfi": {"web3", "eth-account"},
                "eigenlayer": {"web3", "eth-account"}}
#: a markdown link or image target: [text](target)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def project(d: Path) -> dict[str, Any]:
    return tomllib.loads((d / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def requirements(d: Path) -> dict[str, Requirement]:
    return {(r := Requirement(s)).name: r for s in project(d).get("dependencies", [])}


def core_version() -> Version:
    return Version(project(ROOT)["version"])


def test_the_core_is_basis_execution_with_import_package_and_command_unchanged() -> None:
    core = project(ROOT)
    assert core["name"] == basis_core.DISTRIBUTION == "basis-execution"
    assert core["scripts"] == {"basis": "basis_core.cli:main"}
    assert set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
               ["include"]) == {"basis_core*"}
    # the installed distribution is this one, and the version has one source: pyproject.toml
    assert version("basis-execution") == core["version"] == basis_core.__version__
    assert not re.search(r"^__version__\s*=\s*['\"]", (ROOT / "basis_core" / "__init__.py").read_text(), re.M)


@pytest.mark.parametrize("d", PLUGINS, ids=lambda d: d.name)
def test_every_plugin_depends_on_the_core_with_a_range_that_holds_its_version(d: Path) -> None:
    req = requirements(d)
    assert "basis-core" not in req, "basis-core on the index is an unrelated project"
    spec = req["basis-execution"].specifier
    assert spec.contains(core_version()) and not spec.contains(Version(f"{core_version().major + 1}"))
    assert any(s.operator == "<" for s in spec), f"{d.name}: an upper bound keeps a breaking core out"
    assert project(d)["version"] == project(ROOT)["version"]  # released together


@pytest.mark.parametrize("d", PLUGINS, ids=lambda d: d.name)
def test_every_plugin_declares_its_own_client_libraries_as_ranges(d: Path) -> None:
    req = requirements(d)
    assert PLUGIN_NEEDS[d.name] <= set(req)
    for name in PLUGIN_NEEDS[d.name]:
        ops = {s.operator for s in req[name].specifier}
        assert ">=" in ops and "==" not in ops, f"{d.name}: {req[name]} must be a range"
    if "ccxt" in req:  # the oldest supported and the next major excluded; CI tests the oldest (.ci/run)
        assert {str(s) for s in req["ccxt"].specifier if s.operator == "<"} == {"<5"}


def test_the_core_requires_only_what_an_embedding_host_needs() -> None:
    core = project(ROOT)
    required = set(requirements(ROOT))
    assert not required & NOT_CORE
    extras = core["optional-dependencies"]
    assert "live" not in extras, "plugins declare their clients; no duplicate [live] extra"
    assert {Requirement(r).name for r in extras["report"]} == {"matplotlib", "plotly", "pyarrow"}
    # the README's main-job command installs the report extra
    assert re.search(r"^install:.*\n(?:\t.*\n)*\t\$\(PIP\) -e '\.\[report\]'", (ROOT / "Makefile").read_text(),
                     re.M)


def test_nothing_in_the_repository_depends_on_the_old_name() -> None:
    tomls = [*ROOT.glob("pyproject.toml"), *ROOT.glob("plugins/*/pyproject.toml"),
             *ROOT.glob("tests/plugins/*/pyproject.toml"), *ROOT.glob("basis_core/templates/**/pyproject.toml*")]
    assert len(tomls) >= 9
    for t in tomls:
        assert not re.search(r"""["']basis-core\b""", t.read_text()), t
    template = (ROOT / "basis_core/templates/venue/template/pyproject.toml.jinja").read_text()
    (dep,) = re.findall(r'"(basis-execution[^"]*)"', template)
    assert Requirement(dep).specifier.contains(core_version())


@pytest.mark.parametrize("d", DISTS, ids=lambda d: d.name if d != ROOT else "core")
def test_every_distribution_is_index_ready(d: Path) -> None:
    p = project(d)
    assert p["readme"] == "README.md" and (d / "README.md").is_file()
    assert p["license"] == "MIT" and p["license-files"] == ["LICENSE"]
    assert (d / "LICENSE").read_text().startswith("MIT License")
    assert p["description"] and p["requires-python"] == ">=3.11"
    assert "Programming Language :: Python :: 3.11" in p["classifiers"]
    assert not any(c.startswith("License ::") for c in p["classifiers"]), "the license expression says it"
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(p["urls"])
    assert all(u.startswith(URL) for u in p["urls"].values())
    build = tomllib.loads((d / "pyproject.toml").read_text())["build-system"]
    assert "setuptools>=77" in build["requires"]  # license expressions (PEP 639)


@pytest.mark.parametrize("d", DISTS, ids=lambda d: d.name if d != ROOT else "core")
def test_readme_links_and_images_are_absolute_so_the_index_page_keeps_them(d: Path) -> None:
    text = (d / "README.md").read_text(encoding="utf-8")
    targets = LINK.findall(text)
    assert targets
    relative = [t for t in targets if not t.startswith(("https://", "#"))]
    assert relative == []
    for t in targets:  # links into this repository name a file that exists here
        if t.startswith(URL + "/") and ("/blob/main/" in t or "/raw/main/" in t):
            path = t.split("/main/", 1)[1].split("#")[0]
            assert (ROOT / path).exists(), t


@pytest.mark.parametrize("d", PLUGINS, ids=lambda d: d.name)
def test_plugin_readme_examples_run(d: Path) -> None:
    """The Python example of each plugin's index page runs as written (backtest mode) and fills."""
    (code,) = re.findall(r"```python\n(.*?)```", (d / "README.md").read_text(encoding="utf-8"), re.S)
    ns: dict[str, Any] = {"print": lambda *a, **k: None}
    exec(compile(code, f"{d.name}/README.md", "exec"), ns)
    assert ns["d"].status == "filled" and ns["d"].venue == d.name and ns["d"].positions


def test_installed_metadata_carries_readme_license_and_urls() -> None:
    meta = distribution("basis-execution").metadata
    assert meta["Name"] == "basis-execution" and meta["License-Expression"] == "MIT"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert any(u.startswith("Source, " + URL) for u in meta.get_all("Project-URL") or [])
