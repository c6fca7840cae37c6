"""The experiment's report: ``results.json``, a markdown table (arm × dataset, mean ± spread over seeds),
one PNG of every arm's reward and noise curves (mean over seeds) with the curriculum arm's learning signal,
and the same table on the console.

    summary = summarize(results)       # results: arm → seed → {"eval": ..., "metrics": [...]}
    write_report(out, results, summary)
"""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path
from typing import Any

from rich.table import Table

from zerosearch.experiment.stats import mean_spread, signal_in_se

__all__ = ["METRICS", "curves", "markdown_table", "rich_table", "summarize", "write_report"]

log = logging.getLogger(__name__)

METRICS: dict[str, str] = {
    "em": "strict EM",
    "cover_em": "cover EM",
    "f1": "F1",
    "format_valid": "format-valid %",
    "searches_per_question": "searches/q",
}
"""Evaluator result key → column title."""

Results = dict[str, dict[str, dict[str, Any]]]
"""arm → seed (as text) → {"eval": the eval job's results, "metrics": the run's metrics.jsonl lines}."""


def summarize(results: Results) -> dict[str, Any]:
    """Per arm and dataset: mean and spread over seeds of every metric; per arm and seed: the learning signal."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    signal: dict[str, dict[str, float | None]] = {}
    useful: dict[str, dict[str, float | None]] = {}
    for arm, seeds in results.items():
        datasets = sorted({name for run in seeds.values() for name in run["eval"].get("datasets", {})})
        table[arm] = {}
        for dataset in datasets:
            rows = [
                run["eval"]["datasets"][dataset]
                for run in seeds.values()
                if dataset in run["eval"]["datasets"]
            ]
            cell: dict[str, Any] = {"n": rows[0].get("n", 0), "seeds": len(rows)}
            for key in METRICS:
                cell[key] = mean_spread([float(row.get(key, 0.0)) for row in rows])
            table[arm][dataset] = cell
        if any(run.get("metrics") for run in seeds.values()):  # GRPO arms (the cold start has no steps)
            signal[arm] = {
                seed: signal_in_se(_series(run.get("metrics", []), "reward")) for seed, run in seeds.items()
            }
            useful[arm] = {  # steps where every rollout got noisy documents have no value and are left out
                seed: signal_in_se(_series(run.get("metrics", []), "reward_useful"))
                for seed, run in seeds.items()
            }
    return {"table": table, "learning_signal": signal, "useful_signal": useful}


def _series(metrics: list[dict[str, Any]], key: str) -> list[float]:
    return [float(line[key]) for line in sorted(metrics, key=lambda m: m["step"]) if key in line]


def curves(results: Results, key: str) -> dict[str, list[float]]:
    """Per arm: the metric's per-step mean over seeds (as long as the shortest seed's run)."""
    found: dict[str, list[float]] = {}
    for arm, seeds in results.items():
        series = [_series(run.get("metrics", []), key) for run in seeds.values()]
        series = [s for s in series if s]
        if series:
            length = min(len(s) for s in series)
            found[arm] = [statistics.fmean(s[i] for s in series) for i in range(length)]
    return found


def _cell(value: tuple[float, float], seeds: int) -> str:
    mean, spread = value
    return f"{mean:.2f} ± {spread:.2f}" if seeds > 1 else f"{mean:.2f}"


def markdown_table(summary: dict[str, Any]) -> str:
    """Arm × dataset: every metric as mean ± sample SD over seeds; then the learning signal per seed."""
    lines = [
        "| arm | dataset | n | seeds | " + " | ".join(METRICS.values()) + " |",
        "|---|---|---|---|" + "---|" * len(METRICS),
    ]
    for arm, datasets in summary["table"].items():
        for dataset, cell in datasets.items():
            values = " | ".join(_cell(cell[key], cell["seeds"]) for key in METRICS)
            lines.append(f"| {arm} | {dataset} | {cell['n']} | {cell['seeds']} | {values} |")
    lines += [
        "",
        "Training reward, last third vs first third of the steps, in standard errors (per seed):",
        "",
    ]
    for arm, seeds in summary["learning_signal"].items():
        shown = ", ".join(f"seed {s}: {_se(v)}" for s, v in seeds.items())
        lines.append(f"- {arm}: {shown}")
    useful = summary.get("useful_signal", {})
    if any(value is not None for seeds in useful.values() for value in seeds.values()):
        lines += [
            "",
            "The same for the reward of the rollouts that got no noisy documents (the policy's progress "
            "with the curriculum's falling ceiling taken out; steps without such rollouts left out):",
            "",
        ]
        for arm, seeds in useful.items():
            shown = ", ".join(f"seed {s}: {_se(v)}" for s, v in seeds.items())
            lines.append(f"- {arm}: {shown}")
    return "\n".join(lines) + "\n"


def _se(value: float | None) -> str:
    return "n/a (fewer than 6 steps)" if value is None else f"{value:+.2f} SE"


def rich_table(summary: dict[str, Any]) -> Table:
    """The markdown table's content for the console."""
    table = Table(title="Held-out questions, evaluated with bm25 (mean ± SD over seeds)")
    for column in ("arm", "dataset", "n", *METRICS.values()):
        table.add_column(column, justify="left" if column in ("arm", "dataset") else "right")
    for arm, datasets in summary["table"].items():
        for dataset, cell in datasets.items():
            table.add_row(arm, dataset, str(cell["n"]), *(_cell(cell[key], cell["seeds"]) for key in METRICS))
    return table


def _plot(results: Results, summary: dict[str, Any], path: Path, signal_arm: str | None) -> Path:
    # Heavy dependency (matplotlib): imported on use, so importing this module stays light.
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    panels = 3 if signal_arm else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.8))
    for ax, (key, label) in zip(
        axes, (("reward", "training reward (mean over seeds)"), ("noise_p", "noise p")), strict=False
    ):
        for arm, values in curves(results, key).items():
            ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=arm)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    if signal_arm:
        seeds = summary["learning_signal"].get(signal_arm, {})
        names = list(seeds)
        values = [0.0 if v is None or v != v else max(min(v, 10.0), -10.0) for v in seeds.values()]
        axes[2].bar([f"seed {s}" for s in names], values)
        axes[2].axhline(2.0, color="red", linestyle="--", linewidth=1, label="2 SE")
        axes[2].set_ylabel("last − first third (SE)")
        axes[2].set_title(signal_arm, fontsize=8)
        axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(
    out: Path, results: Results, summary: dict[str, Any], *, signal_arm: str | None, meta: dict[str, Any]
) -> dict[str, Path]:
    """Write results.json, results.md and curves.png under ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "markdown": out / "results.md", "curves": out / "curves.png"}
    document = {"experiment": meta, "summary": summary, "runs": results}
    paths["json"].write_text(json.dumps(document, indent=2, default=str))
    paths["markdown"].write_text(markdown_table(summary))
    _plot(results, summary, paths["curves"], signal_arm)
    log.info("experiment report: %s", ", ".join(str(p) for p in paths.values()))
    return paths
