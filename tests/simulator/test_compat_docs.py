"""docs/simulator.md documents every endpoint the app serves (the OpenAPI paths and the MCP endpoint)."""

from __future__ import annotations

from pathlib import Path

from zerosearch.simulator.app import create_app
from zerosearch.simulator.settings import SimulatorSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"


def test_every_endpoint_is_documented() -> None:
    app = create_app(SimulatorSettings())
    paths = {path.replace(".json", "") for path in app.openapi()["paths"]} | {"/mcp"}
    text = DOC.read_text()
    missing = sorted(p for p in paths if f"{p}" not in text)
    assert not missing, f"docs/simulator.md does not mention {missing}"
