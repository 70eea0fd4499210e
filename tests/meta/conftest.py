"""Fixtures shared by the guide tests."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def import_guide_example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, str], ModuleType]]:
    """``load(module_name, source)``: a guide's code block imported as a module (written to a temporary file); it
    stays in ``sys.modules`` while the test module runs."""
    names: list[str] = []

    def load(name: str, source: str) -> ModuleType:
        path = tmp_path_factory.mktemp("guide") / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        names.append(spec.name)
        spec.loader.exec_module(mod)
        return mod

    yield load
    for name in names:
        sys.modules.pop(name, None)
