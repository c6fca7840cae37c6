"""The demo's showcase tables: the curriculum as step → p, and useful vs noisy documents side by side."""

from __future__ import annotations

from rich.console import Console

from zerosearch.showcase import SHOWCASE_QUESTIONS, schedule_table, searches_table
from zerosearch.trainer.curriculum import Curriculum


def _text(table) -> str:  # type: ignore[no-untyped-def]
    console = Console(width=160, record=True)
    console.print(table)
    return console.export_text()


def test_schedule_table_shows_every_step_of_a_short_run() -> None:
    text = _text(schedule_table(Curriculum("exponential", 0.0, 0.5, 4, 4.0).schedule(), kind="exponential"))
    assert "Noise curriculum (exponential)" in text
    rows = [line.split("│")[1:3] for line in text.splitlines() if line.count("│") >= 3]
    steps = [(int(cells[0]), float(cells[1])) for cells in rows]
    assert [s for s, _ in steps] == [1, 2, 3, 4]
    ps = [p for _, p in steps]
    assert ps == sorted(ps) and ps[-1] == 0.5  # rises to p_end


def test_schedule_table_samples_a_long_run_with_first_and_last_step() -> None:
    text = _text(
        schedule_table(Curriculum("linear", 0.0, 1.0, 200, 4.0).schedule(), kind="linear", max_rows=5)
    )
    steps = [line.split("│")[1].strip() for line in text.splitlines() if line.count("│") >= 3]
    assert steps[0] == "1" and steps[-1] == "200" and len(steps) == 5


def test_searches_table_says_where_the_answer_appears() -> None:
    item = SHOWCASE_QUESTIONS[0]

    def response(text: str) -> dict:  # type: ignore[type-arg]
        return {"documents": [{"rank": 1, "text": text}], "formatted": f"Doc 1: {text}", "latency_ms": 12.0}

    row = {
        "item": item,
        "useful": response("Moby-Dick is a novel by Herman Melville."),
        "noisy": response("A whale."),
    }
    text = " ".join(_text(searches_table([row])).split())
    assert "answer appears" in text and "answer absent" in text
    assert text.index("answer appears") < text.index("answer absent")  # useful column first
