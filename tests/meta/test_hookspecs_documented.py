"""Meta-tests (as datasette does): every hook is documented and tested, and docs/hooks.md cannot drift.

Rules, per hook specification of basis_core/hookspecs.py:
- docstring: a purpose sentence; every parameter documented (``:param name:`` or a ````name```` literal in the
  text; ``timestamp`` and, for operation hooks, ``instruction`` are documented by the module's contract and
  the instruction model that docs/hooks.md renders); ``:return:``; ``:raises`` for operation hooks (an
  instruction can always be invalid); an example (``Example``).
- docs/hooks.md is exactly what ``python -m basis_core.testing.conformance_hookdocs --write`` renders, and
  has a section per hook.
- some test file outside tests/meta (tests/**, plugins/*/tests/**) names the hook, or, for an operation
  hook, its operation in quotes (``"perp_trade"``: instructions route to the hook by operation).

``KNOWN_GAPS`` lists today's gaps as xfails: docstring gaps are strict (a fixed gap XPASSes and fails until its
entry is removed); "no test names it yet" gaps are not strict (plugins add those tests independently).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from basis_core import hookspecs
from basis_core.hookspecs import OPERATION_HOOKS
from basis_core.testing.conformance_hookdocs import REGENERATE, hook_specs, render_hooks_md

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "hooks.md"
SPECS = hook_specs()
OPERATION_OF = {hook: op for op, hook in OPERATION_HOOKS.items()}
MODULE_DOC = inspect.getdoc(hookspecs) or ""

#: (hook, rule) -> why it is a known gap today. Fix the docstring / add the test, then delete the entry.
KNOWN_GAPS: dict[tuple[str, str], str] = {
}


def _cases(rule: str) -> list[object]:
    out = []
    for name in SPECS:
        gap = KNOWN_GAPS.get((name, rule))
        # docstring gaps are strict (fixing one must delete its entry); test gaps close as plugins land tests
        marks = [pytest.mark.xfail(reason=f"known gap: {gap}", strict=rule != "tested")] if gap else []
        out.append(pytest.param(name, id=name, marks=marks))
    return out


def _doc(name: str) -> str:
    return inspect.getdoc(SPECS[name]) or ""


def _documented(name: str, param: str) -> bool:
    doc = _doc(name)
    if f":param {param}:" in doc or f"``{param}``" in doc:
        return True
    if param == "timestamp" and "``timestamp``" in MODULE_DOC:
        return True
    return param == "instruction" and name in OPERATION_OF and "``instruction``" in MODULE_DOC


def test_hookspecs_are_found() -> None:
    assert len(SPECS) >= len(OPERATION_HOOKS) + 4
    assert set(OPERATION_HOOKS.values()) <= set(SPECS)


@pytest.mark.parametrize("name", _cases("purpose"))
def test_hook_states_its_purpose(name: str) -> None:
    first = _doc(name).split("\n\n")[0].strip()
    assert first and not first.startswith(":"), f"{name}: the docstring must start with what the hook is for"
    assert first.endswith((".", ":")), f"{name}: the purpose must be a sentence"


@pytest.mark.parametrize("name", _cases("params"))
def test_hook_documents_every_parameter(name: str) -> None:
    missing = [p for p in inspect.signature(SPECS[name]).parameters if not _documented(name, p)]
    assert not missing, f"{name}: document {missing} with ':param <name>:'"


@pytest.mark.parametrize("name", _cases("return"))
def test_hook_documents_its_return(name: str) -> None:
    assert re.search(r":returns?:", _doc(name)), f"{name}: add ':return: ...'"


@pytest.mark.parametrize("name", [p for p in _cases("raises") if p.values[0] in OPERATION_OF])  # type: ignore[attr-defined]
def test_operation_hook_documents_its_errors(name: str) -> None:
    assert ":raises" in _doc(name), f"{name}: add ':raises <Error>: when ...' (typed errors of basis_core.errors)"


@pytest.mark.parametrize("name", _cases("example"))
def test_hook_has_an_example(name: str) -> None:
    assert "Example" in _doc(name), f"{name}: add 'Example: ...' (an instruction dict or an implementation)"


def test_hooks_md_is_generated_from_hookspecs() -> None:
    assert DOC.exists(), f"docs/hooks.md is missing: run `{REGENERATE}`"
    assert DOC.read_text() == render_hooks_md(), f"docs/hooks.md is stale: run `{REGENERATE}` and commit it"


@pytest.mark.parametrize("name", list(SPECS))
def test_every_hook_has_a_section_in_hooks_md(name: str) -> None:
    text = DOC.read_text()
    assert f"\n## `{name}`\n" in text, f"docs/hooks.md has no section for {name}"


def _test_texts() -> dict[Path, str]:
    files = [p for p in (ROOT / "tests").rglob("*.py") if "meta" not in p.relative_to(ROOT / "tests").parts[:1]]
    files += list((ROOT / "plugins").glob("*/tests/**/*.py"))
    return {p: p.read_text(errors="replace") for p in files}


TEST_TEXTS = _test_texts()


@pytest.mark.parametrize("name", _cases("tested"))
def test_every_hook_is_named_by_a_test(name: str) -> None:
    pats = [re.compile(rf"\b{re.escape(name)}\b")]
    if name in OPERATION_OF:
        pats.append(re.compile(rf"""["']{re.escape(OPERATION_OF[name])}["']"""))
    hits = [p for p, text in TEST_TEXTS.items() if any(pat.search(text) for pat in pats)]
    assert hits, f"no test outside tests/meta names {name!r}: add a test that exercises it"
