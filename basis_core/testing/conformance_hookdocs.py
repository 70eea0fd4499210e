"""Render ``docs/hooks.md`` from :mod:`basis_core.hookspecs` (docstrings) and :mod:`basis_core.instructions`
(the instruction model of every operation hook, with field types, defaults and units), so the reference
cannot drift from the code: tests/meta compares the file with :func:`render_hooks_md`.

Regenerate: ``python -m basis_core.testing.conformance_hookdocs --write`` (from the repository root).
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le
from pydantic.fields import FieldInfo

from basis_core import hookspecs
from basis_core.hookspecs import OPERATION_HOOKS
from basis_core.instructions import MODELS

DOC_PATH = Path("docs") / "hooks.md"
REGENERATE = "python -m basis_core.testing.conformance_hookdocs --write"
_HOOK_TO_OP = {hook: op for op, hook in OPERATION_HOOKS.items()}

#: units / meaning of instruction fields (the models carry the constraints; this says what the numbers are)
FIELD_UNITS: dict[str, str] = {
    "amount": "human units of the asset (base asset for orders), e.g. 1.5 = 1.5 ETH",
    "amount_in": "human units of token_in",
    "min_amount_out": "human units of token_out",
    "lp_amount": "LP tokens, human units, or \"max\"",
    "amounts": "token -> human units",
    "min_amounts": "token -> human units",
    "min_lp_out": "LP tokens, human units",
    "price": "quote units per base unit (limit price)",
    "max_slippage_bps": "basis points (1 bp = 0.01%)",
    "leverage": "multiple of margin (1-200)",
    "deadline": "timezone-aware datetime",
    "tick_lower": "Uniswap v3 tick",
    "tick_upper": "Uniswap v3 tick",
    "e_mode_category": "Aave e-mode category id",
    "symbol": "ccxt unified symbol: spot ETH/USDT, linear perpetual ETH/USDT:USDT",
    "venue": "venue id (the plugin's entry-point name)",
    "client_id": "idempotency key: the same client_id twice executes once",
}


def hook_specs() -> dict[str, Any]:
    """Every hook specification of :mod:`basis_core.hookspecs`, by name, in file order."""
    specs = [(name, fn) for name, fn in vars(hookspecs).items()
             if inspect.isfunction(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec")]
    specs.sort(key=lambda kv: kv[1].__code__.co_firstlineno)
    return dict(specs)


def spec_options(fn: Any) -> dict[str, Any]:
    return dict(getattr(fn, f"{hookspecs.PROJECT}_spec", {}) or {})


def _constraints(meta: list[Any]) -> str:
    parts = []
    for m in meta:
        if isinstance(m, Gt):
            parts.append(f"> {m.gt}")
        elif isinstance(m, Ge):
            parts.append(f">= {m.ge}")
        elif isinstance(m, Le) and not (isinstance(m.le, Decimal) and m.le == Decimal("1e15")):
            parts.append(f"<= {m.le}")
        elif isinstance(m, Le):
            parts.append("<= 1e15")
    return ", ".join(parts)


def _type_name(tp: Any) -> str:
    """A short, readable name of a (pydantic) field type."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(tp)
        flat: list[Any] = []
        for m in meta:
            flat.extend(m.metadata if isinstance(m, FieldInfo) else [m])
        c = _constraints(flat)
        return f"{_type_name(base)} {c}".strip()
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a).replace("'", '"') for a in typing.get_args(tp))
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in typing.get_args(tp))}]"
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _field_row(name: str, f: FieldInfo) -> str:
    tp = _type_name(f.annotation)
    c = _constraints(list(f.metadata))
    if c:
        tp = f"{tp} {c}"
    default = "required" if f.is_required() else f"`{f.default!r}`" if f.default is not None else "None"
    meaning = f.description or FIELD_UNITS.get(name, "")
    if f.description and name in FIELD_UNITS and FIELD_UNITS[name] not in f.description:
        meaning = f"{f.description}; {FIELD_UNITS[name]}"
    return f"| `{name}` | {tp.replace('|', '&#124;')} | {default.replace('|', '&#124;')} | {meaning} |"


def model_table(operation: str) -> str:
    """Markdown table of the instruction model of ``operation``."""
    model = MODELS[operation]
    rows = ["| field | type | default | meaning / units |", "|---|---|---|---|"]
    rows += [_field_row(n, f) for n, f in model.model_fields.items()]
    return "\n".join(rows)


_FIELD_RE = re.compile(r"^:(param|return|returns|raises)\s*([^:]*):\s*(.*)$")
_SPLIT_RE = re.compile(r";\s+(?=:(?:param|return|returns|raises)\b)")
_ROLE_RE = re.compile(r":(?:class|mod|func|meth|data|attr|exc):`~?([^`]+)`")
_LABELS = {"param": "- parameter `{}`", "return": "- **returns**", "returns": "- **returns**",
           "raises": "- **raises** `{}`"}


def docstring_markdown(doc: str) -> str:
    """Turn a hook docstring (reST field lists, ``Example::`` blocks) into Markdown."""
    lines: list[str] = []
    for line in doc.splitlines():  # "...; :raises X: ..." on one line -> two fields
        lines.extend(_SPLIT_RE.split(line.strip()) if line.strip().startswith(":") else [line.rstrip()])
    out: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.endswith("::") and stripped.lower().startswith("example"):
            out += ["**Example:**", "", "```python"]
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                out.append(lines[i][4:] if lines[i].startswith("    ") else lines[i].strip())
                i += 1
            while out[-1] == "":
                out.pop()
            out += ["```", ""]
            continue
        m = _FIELD_RE.match(stripped)
        if m:
            kind, arg, text = m.groups()
            while i + 1 < len(lines) and lines[i + 1].startswith("    ") and not lines[i + 1].strip().startswith(":"):
                i += 1
                text += " " + lines[i].strip()
            if out and out[-1] and not out[-1].startswith("- "):
                out.append("")
            out.append(f"{_LABELS[kind].format(arg.strip())}: {_inline(text.strip())}")
        else:
            out.append(_inline(stripped))
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def _inline(text: str) -> str:
    """reST inline markup to Markdown: roles and double backticks to code spans."""
    return _ROLE_RE.sub(lambda m: f"`{m.group(1)}`", text).replace("``", "`")


def render_hooks_md() -> str:
    """The full text of docs/hooks.md."""
    specs = hook_specs()
    head = inspect.getdoc(hookspecs) or ""
    parts = [
        "# Hooks reference",
        "",
        f"<!-- Generated from basis_core/hookspecs.py by `{REGENERATE}`. Do not edit: tests/meta checks it. -->",
        "",
        "Every hook a venue plugin can implement, with its purpose, parameters, units, return value, errors and an",
        "example. Implement a hook by defining a method of the same name decorated with "
        "`basis_core.hookimpl` on the",
        "venue class (see [writing-a-venue-plugin.md](writing-a-venue-plugin.md)).",
        "",
        "## The contract",
        "",
        docstring_markdown(head),
        "",
        "Units: amounts and prices are `Decimal` in human units (1.5 ETH, not wei); the USD values of "
        "`ExecutionDeltas.pnl`",
        "are signed (+ is a gain); timestamps are timezone-aware UTC `pandas.Timestamp`s.",
        "",
        "## Summary",
        "",
        "| hook | kind | call | instruction model |",
        "|---|---|---|---|",
    ]
    for name, fn in specs.items():
        opts = spec_options(fn)
        call = "firstresult" if opts.get("firstresult") else "historic" if opts.get("historic") else "all results"
        op = _HOOK_TO_OP.get(name)
        kind = f"operation `{op}`" if op else "query" if name in ("get_balances", "quote_swap",
                                                                  "estimate_notional") else "lifecycle"
        model = f"`{MODELS[op].__name__}`" if op else "-"
        parts.append(f"| [`{name}`](#{name}) | {kind} | {call} | {model} |")
    for name, fn in specs.items():
        sig = ", ".join(inspect.signature(fn).parameters)
        opts = spec_options(fn)
        flags = [k for k in ("firstresult", "historic") if opts.get(k)]
        parts += ["", f"## `{name}`", "", f"`{name}({sig})`" + (f" - {', '.join(flags)}" if flags else ""), ""]
        parts.append(docstring_markdown(inspect.getdoc(fn) or ""))
        op = _HOOK_TO_OP.get(name)
        if op:
            parts += ["", f"Instruction: `basis_core.instructions.{MODELS[op].__name__}` (`operation` = `\"{op}\"`)",
                      "", model_table(op)]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render_hooks_md()
    if "--write" in args:
        DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOC_PATH.write_text(text)
        print(f"wrote {DOC_PATH}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
