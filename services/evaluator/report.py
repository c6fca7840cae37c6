"""The output folder of a run: ``predictions.jsonl``, ``results.json``, ``results.md`` and ``results.png``.

A re-run into the same folder never mixes with an earlier run: :meth:`RunReport.start` removes the report
files a previous run left, predictions are appended to ``predictions.jsonl.partial`` as batches finish
(visible progress, and what a killed run leaves behind), and :meth:`RunReport.finish` moves every file
into place only when the run is complete. So a folder either holds one complete run or only a
``.partial`` file, never a complete-looking mixture.

    report = RunReport(out_dir).start()
    report.append(records)
    report.finish(results)
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from zerosearch.common.io import atomic_write_text, save_figure
from zerosearch.evaluator.scoring import METRICS

__all__ = ["PARTIAL_SUFFIX", "REPORT_FILES", "RunReport", "render_markdown", "write_chart"]

log = logging.getLogger(__name__)

PREDICTIONS = "predictions.jsonl"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
CHART = "results.png"
PARTIAL_SUFFIX = ".partial"
REPORT_FILES = (PREDICTIONS, RESULTS_JSON, RESULTS_MD, CHART)
"""Files a complete run leaves in its output folder."""

# Column titles as the paper prints them.
_TITLES = {
    "nq": "NQ",
    "triviaqa": "TriviaQA",
    "popqa": "PopQA",
    "hotpotqa": "HotpotQA",
    "2wikimultihopqa": "2Wiki",
    "musique": "Musique",
    "bamboogle": "Bamboogle",
}
_METRIC_TITLES = {"em": "Strict EM", "cover_em": "Cover EM", "f1": "F1"}


def _title(name: str) -> str:
    return _TITLES.get(name, name)


def render_markdown(results: dict[str, Any]) -> str:
    """A paper-style table (datasets as columns, then Avg.) per metric, and a behaviour table."""
    datasets = results["datasets"]
    names = list(datasets)
    head = "| Metric | " + " | ".join(_title(n) for n in names) + " | Avg. |"
    rule = "|---" * (len(names) + 2) + "|"
    rows = [
        f"| {_METRIC_TITLES[m]} | "
        + " | ".join(f"{datasets[n][m]:.2f}" for n in names)
        + f" | {results['macro'][m]:.2f} |"
        for m in METRICS
    ]
    behaviour = [
        "| Dataset | n | searches/question | answer rate % | invalid-action rate % | failed searches |",
        "|---|---|---|---|---|---|",
        *(
            f"| {_title(n)} | {d['n']} | {d['searches_per_question']:.2f} | {d['answer_rate']:.1f} | "
            f"{d['invalid_action_rate']:.1f} | {d['failed_searches']} |"
            for n, d in datasets.items()
        ),
    ]
    run = results.get("run", {})
    lines = [
        f"# Evaluation: {run.get('model', '?')} ({run.get('method', '?')}, search: {run.get('search') or 'none'})",
        "",
        "Scores in % (strict EM = SQuAD-normalized exact match; cover EM = gold inside the answer).",
        "",
        head,
        rule,
        *rows,
        "",
        *behaviour,
        "",
        f"{run.get('questions', 0)} questions in {run.get('elapsed_s', 0):.1f} s.",
        "",
    ]
    return "\n".join(lines)


def write_chart(results: dict[str, Any], path: Path) -> None:
    """A grouped bar chart of strict EM, cover EM and F1 per dataset plus the average (matplotlib Agg)."""
    # Heavy dependency (matplotlib): imported on use, so importing this module stays light.
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and workers
    import matplotlib.pyplot as plt

    names = [*results["datasets"], "avg"]
    values = {m: [*(d[m] for d in results["datasets"].values()), results["macro"][m]] for m in METRICS}
    width = 0.8 / len(METRICS)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(names) + 2), 3.5))
    for i, metric in enumerate(METRICS):
        xs = [x + (i - (len(METRICS) - 1) / 2) * width for x in range(len(names))]
        ax.bar(xs, values[metric], width, label=_METRIC_TITLES[metric])
    ax.set_xticks(range(len(names)), [_title(n) if n != "avg" else "Avg." for n in names])
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{results.get('run', {}).get('model', '')} — {results.get('run', {}).get('method', '')}")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)


class RunReport:
    """Writes one run's output folder without ever mixing it with an earlier run's files."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._partial = self.out_dir / (PREDICTIONS + PARTIAL_SUFFIX)

    def start(self) -> RunReport:
        """Create the folder and remove the report files (and partials) an earlier run left there."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for path in self.out_dir.iterdir():
            # Our own files only (also a killed run's partials); anything else the user put there stays.
            if path.is_file() and path.name.split(PARTIAL_SUFFIX)[0] in REPORT_FILES:
                path.unlink(missing_ok=True)
        self._partial.write_text("", encoding="utf-8")
        return self

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append finished predictions to the partial file (flushed per batch)."""
        with self._partial.open("a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def finish(self, results: dict[str, Any]) -> dict[str, Path]:
        """Write results.json/.md and the chart, then move the predictions into place; return the paths."""
        paths = {
            "predictions": self.out_dir / PREDICTIONS,
            "results_json": self.out_dir / RESULTS_JSON,
            "results_md": self.out_dir / RESULTS_MD,
            "chart": self.out_dir / CHART,
        }
        atomic_write_text(paths["results_md"], render_markdown(results))
        write_chart(results, paths["chart"])  # atomic (common.io.save_figure)
        os.replace(self._partial, paths["predictions"])
        # results.json last: its presence marks a complete run for tools that poll the folder.
        atomic_write_text(paths["results_json"], json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        log.info("report written to %s", self.out_dir)
        return paths
