"""The public surface of the agent loop, policies and search backends is pinned (other services import it)."""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "zerosearch.common.agent": {"TurnCallback", "noise_mode", "query_seed", "run_rollouts", "search_seed"},
    "zerosearch.common.policies": {"POLICY_ENGINES", "Generation", "Policy", "make_policy"},
    "zerosearch.common.search": {
        "BACKEND_NAMES",
        "SearchBackend",
        "SearchRequest",
        "SearchResult",
        "make_backend",
        "run_sync",
    },
}


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_exported_members(module: str) -> None:
    imported = importlib.import_module(module)
    assert set(imported.__all__) == EXPECTED[module]
    assert all(hasattr(imported, name) for name in imported.__all__)


def test_importing_the_packages_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, zerosearch.common.search, zerosearch.common.policies; print(any(m in sys.modules for m in ('bm25s', 'torch', 'transformers')))"
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "False"
    )
