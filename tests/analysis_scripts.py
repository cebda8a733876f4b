"""Import a script of ``analyses/`` (not a package) as a module, for the tests of its functions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ANALYSES = Path(__file__).resolve().parents[1] / "analyses"


def load_analysis(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ANALYSES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
