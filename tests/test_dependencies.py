"""Every third-party package imported under services/ is declared in pyproject.toml (core or an extra)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NOT_INSTALLED_HERE = {"vllm": "vllm"}
"""Optional GPU packages absent on CPU machines: module → distribution, checked against pyproject."""


def _imported_modules() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in (ROOT / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "zerosearch":
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = [
        *project["dependencies"],
        *(d for extra in project["optional-dependencies"].values() for d in extra),
    ]
    return {re.split(r"[<>=!~\[ ;]", spec)[0].lower().replace("_", "-") for spec in specs}


def test_every_imported_package_is_declared() -> None:
    declared, distributions = _declared(), packages_distributions()
    missing = []
    for module, where in sorted(_imported_modules().items()):
        names = distributions.get(module) or [NOT_INSTALLED_HERE.get(module, module)]
        if not any(name.lower().replace("_", "-") in declared for name in names):
            missing.append(f"{module} (imported in {where}; distribution {', '.join(names)})")
    assert not missing, "declare in pyproject.toml: " + "; ".join(missing)
