"""The fidelity report: does a simulator's useful mode help and its noisy mode not, like a real engine?

For held-out questions (the question text is the query, as no policy sub-query exists for them), the
simulator is asked once in useful mode and once in noisy mode, with the question and its first gold
answer, as the trainer asks it. Each mode and the real engine's reference row report:

- ``doc_answer_rate``: share of documents that contain a gold answer (whole words, normalized);
- ``call_answer_rate``: share of calls with at least one such document;
- ``format_valid_rate``: share of calls that came back with exactly k parsed documents;
- ``mean_doc_words``: mean document length in words;
- ``failed``: calls that failed after their retries (counted as format-invalid, never dropped).

A faithful simulator has a high useful rate, a low noisy rate (the gap is what the curriculum relies on)
and k well-formed documents of a search-engine length. Writes ``fidelity.md``, ``fidelity.json`` and
``fidelity.png``.

    report = main(FidelityConfig(simulator="http://127.0.0.1:8000", questions="nq", limit=32))
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import BaseModel

from zerosearch.common.io import save_figure
from zerosearch.common.metrics import contains_answer
from zerosearch.common.queue import report_progress
from zerosearch.common.search.base import SearchBackend, SearchRequest, SearchResult, run_sync
from zerosearch.common.search.simulator import SimulatorBackend
from zerosearch.common.trajectory import QAItem
from zerosearch.tuning.collect import load_questions, make_real_backend
from zerosearch.tuning.config import FidelityConfig

__all__ = ["FidelityReport", "FidelityRow", "main", "measure", "render_markdown", "render_plot"]

log = logging.getLogger(__name__)

_BATCH = 8  # requests per simulator POST: keeps one request well under the service's batch limits


class FidelityRow(BaseModel):
    """The measures of one source: a simulator mode or the real engine."""

    name: str
    mode: str
    calls: int
    failed: int
    documents: int
    doc_answer_rate: float
    call_answer_rate: float
    format_valid_rate: float
    mean_doc_words: float


class FidelityReport(BaseModel):
    """Every row, the settings they were measured with, and the useful−noisy gap."""

    simulator: str
    questions: str
    n_questions: int
    k: int
    rows: list[FidelityRow]

    def gap(self) -> float | None:
        """useful minus noisy ``doc_answer_rate`` of the simulator (None when a mode is missing)."""
        rates = {r.mode: r.doc_answer_rate for r in self.rows}
        if "useful" in rates and "noisy" in rates:
            return rates["useful"] - rates["noisy"]
        return None


def measure(name: str, mode: str, items: list[QAItem], results: list[SearchResult], k: int) -> FidelityRow:
    """The row of ``results`` (one per item, in order)."""
    docs = hits = calls_with_hit = valid = failed = words = 0
    for item, result in zip(items, results, strict=True):
        failed += result.failed
        valid += (not result.failed) and len(result.documents) == k
        found = [contains_answer(f"{d.title} {d.text}", item.golden_answers) for d in result.documents]
        docs += len(found)
        hits += sum(found)
        calls_with_hit += any(found)
        words += sum(len(d.text.split()) for d in result.documents)
    calls = len(results)
    return FidelityRow(
        name=name,
        mode=mode,
        calls=calls,
        failed=failed,
        documents=docs,
        doc_answer_rate=hits / docs if docs else 0.0,
        call_answer_rate=calls_with_hit / calls if calls else 0.0,
        format_valid_rate=valid / calls if calls else 0.0,
        mean_doc_words=words / docs if docs else 0.0,
    )


def _ask(backend: SearchBackend, items: list[QAItem], config: FidelityConfig, mode: str | None) -> list:
    results: list[SearchResult] = []
    for start in range(0, len(items), _BATCH):
        chunk = items[start : start + _BATCH]
        requests = [
            SearchRequest(
                query=item.question,
                k=config.k,
                mode=mode,
                question=item.question if mode else None,
                answer=(item.golden_answers[0] if item.golden_answers else None) if mode else None,
                seed=config.seed + start + i,
            )
            for i, item in enumerate(chunk)
        ]
        results.extend(backend.search_batch(requests))
        report_progress(stage="fidelity", mode=mode or "real", done=len(results), total=len(items))
    return results


def render_markdown(report: FidelityReport) -> str:
    """The report as a markdown table with a one-paragraph reading guide."""
    lines = [
        f"# Simulator fidelity: {report.simulator}",
        "",
        f"{report.n_questions} held-out questions from `{report.questions}`, k = {report.k}; the query is the "
        "question. *answer rate*: share of documents (calls) holding a gold answer; *format-valid*: calls "
        "with exactly k parsed documents.",
        "",
        "| source | mode | calls | failed | doc answer rate | call answer rate | format-valid | mean words |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report.rows:
        lines.append(
            f"| {r.name} | {r.mode} | {r.calls} | {r.failed} | {r.doc_answer_rate:.1%} | "
            f"{r.call_answer_rate:.1%} | {r.format_valid_rate:.1%} | {r.mean_doc_words:.1f} |"
        )
    gap = report.gap()
    if gap is not None:
        lines += [
            "",
            f"Useful − noisy document answer rate: **{gap:+.1%}** (a faithful simulator is well above 0).",
        ]
    return "\n".join(lines) + "\n"


def render_plot(report: FidelityReport, path: Path) -> None:
    """Grouped bars of the three rates per row, and mean document length beside them."""
    # Heavy dependency (matplotlib): imported on use, so importing this module stays light.
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in jobs
    import matplotlib.pyplot as plt

    labels = [f"{r.name}\n{r.mode}" for r in report.rows]
    measures = [("doc answer rate", "doc_answer_rate"), ("call answer rate", "call_answer_rate"),
                ("format-valid", "format_valid_rate")]  # fmt: skip
    fig, (rates, lengths) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / len(measures)
    for j, (title, field) in enumerate(measures):
        xs = [i + (j - 1) * width for i in range(len(labels))]
        rates.bar(xs, [getattr(r, field) for r in report.rows], width, label=title)
    rates.set_xticks(range(len(labels)), labels)
    rates.set_ylim(0, 1)
    rates.set_ylabel("rate")
    rates.legend(loc="upper right", fontsize=8)
    rates.set_title(f"Fidelity ({report.n_questions} questions, k={report.k})")
    lengths.bar(range(len(labels)), [r.mean_doc_words for r in report.rows], color="gray")
    lengths.set_xticks(range(len(labels)), labels, fontsize=7)
    lengths.set_title("mean words / document")
    fig.tight_layout()
    save_figure(fig, path)


def main(config: FidelityConfig, *, simulator: SearchBackend | None = None) -> FidelityReport:
    """Measure the simulator at ``config.simulator`` (and the real engine), write md/json/png."""
    items = load_questions(config.questions, config.limit, config.seed)
    reference = (
        None
        if config.backend == "none"
        else make_real_backend(config.backend, config.corpus, config.backend_url)
    )
    backend = simulator or SimulatorBackend(config.simulator, timeout_s=config.timeout_s)
    run_sync(backend.check())  # a simulator that is down fails here, naming its URL
    rows = [measure(config.name, mode, items, _ask(backend, items, config, mode), config.k)
            for mode in ("useful", "noisy")]  # fmt: skip
    if reference is not None:
        rows.append(
            measure(f"{config.backend} (real)", "real", items, _ask(reference, items, config, None), config.k)
        )
    report = FidelityReport(
        simulator=config.simulator, questions=config.questions, n_questions=len(items), k=config.k, rows=rows
    )
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fidelity.json").write_text(json.dumps(report.model_dump(mode="json"), indent=2))
    (out / "fidelity.md").write_text(render_markdown(report))
    render_plot(report, out / "fidelity.png")
    log.info("fidelity: %s", "; ".join(f"{r.name}/{r.mode} {r.doc_answer_rate:.1%}" for r in rows))
    return report
