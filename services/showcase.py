"""What the demo shows before it trains: the simulator's two modes side by side, and the noise curriculum.

ZeroSearch's idea in two tables. The same query goes to the simulator twice: in *useful* mode, with the
question and its answer given (so the documents should contain the answer), and in *noisy* mode (plausible
documents without it). The curriculum then decides, step by step, how often training searches are noisy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from rich.markup import escape
from rich.table import Table

from zerosearch.common.metrics import contains_answer

__all__ = ["SHOWCASE_QUESTIONS", "ShowcaseQuestion", "fetch_showcase", "schedule_table", "searches_table"]


@dataclass(frozen=True)
class ShowcaseQuestion:
    """A query the agent might issue, with the dataset question and gold answers behind it."""

    query: str
    question: str
    answers: tuple[str, ...]


SHOWCASE_QUESTIONS = (
    ShowcaseQuestion("who wrote moby dick", "Who wrote Moby-Dick?", ("Herman Melville", "Melville")),
    ShowcaseQuestion("capital of australia", "What is the capital of Australia?", ("Canberra",)),
    ShowcaseQuestion("when did the berlin wall fall", "When did the Berlin Wall fall?", ("1989",)),
)
"""The demo's showcase searches, in the order shown."""


def fetch_showcase(url: str, count: int, *, k: int = 3, timeout_s: float = 300.0) -> list[dict[str, Any]]:
    """One batch call: each of the first ``count`` questions in useful and in noisy mode (same seed).

    Returns one row per question: ``{"item": ShowcaseQuestion, "useful": response, "noisy": response}``.
    """
    items = [SHOWCASE_QUESTIONS[i % len(SHOWCASE_QUESTIONS)] for i in range(count)]
    requests = []
    for seed, item in enumerate(items):
        given = {"question": item.question, "answer": item.answers[0]}
        requests.append({"q": item.query, "mode": "useful", "k": k, "seed": seed, **given})
        requests.append({"q": item.query, "mode": "noisy", "k": k, "seed": seed})
    if not requests:
        return []
    with httpx.Client(timeout=timeout_s) as client:
        results = (
            client.post(f"{url}/search", json={"requests": requests}).raise_for_status().json()["results"]
        )
    return [
        {"item": item, "useful": results[2 * i], "noisy": results[2 * i + 1]} for i, item in enumerate(items)
    ]


def _cell(response: dict[str, Any], answers: tuple[str, ...]) -> str:
    documents = "\n".join(f"{d['rank']}. {d['text']}" for d in response["documents"])
    found = contains_answer(response["formatted"], list(answers))
    verdict = "[green]answer appears[/green]" if found else "[yellow]answer absent[/yellow]"
    return f"{escape(documents)}\n{verdict} · {response['latency_ms']:.0f} ms"


def searches_table(rows: list[dict[str, Any]]) -> Table:
    """The same query in useful mode (question and answer given) and noisy mode, one row per query."""
    table = Table(title="The simulated search engine: the same query, useful vs noisy", show_lines=True)
    table.add_column("query (question · gold answer)", ratio=1)
    table.add_column("useful mode: question and answer given", ratio=2)
    table.add_column("noisy mode", ratio=2)
    for row in rows:
        item: ShowcaseQuestion = row["item"]
        label = f"[bold]{escape(item.query)}[/bold]\n[dim]{escape(item.question)} · {escape(item.answers[0])}[/dim]"
        table.add_row(label, _cell(row["useful"], item.answers), _cell(row["noisy"], item.answers))
    return table


def schedule_table(schedule: list[tuple[int, float]], *, kind: str, max_rows: int = 12) -> Table:
    """The curriculum as ``step → p`` (p: probability that a training search is noisy).

    Long schedules show ``max_rows`` evenly spaced steps, always with the first and the last.
    """
    if len(schedule) > max_rows:
        last = len(schedule) - 1
        picks = sorted({round(i * last / (max_rows - 1)) for i in range(max_rows)})
        schedule = [schedule[i] for i in picks]
    table = Table(title=f"Noise curriculum ({kind})")
    table.add_column("GRPO step", justify="right")
    table.add_column("p = P(search is noisy)", justify="right")
    table.add_column("", no_wrap=True)
    for step, p in schedule:
        table.add_row(str(step), f"{p:.3f}", "█" * round(p * 20) or "·")
    return table
