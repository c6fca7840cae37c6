"""PNG plots of a run's ``metrics.jsonl``: reward, noise p, searches per rollout, response length."""

from __future__ import annotations

import logging
from pathlib import Path

from zerosearch.trainer.run_dir import RunDir

__all__ = ["PLOTS", "plot_curriculum", "write_plots"]

log = logging.getLogger(__name__)

PLOTS: dict[str, tuple[str, str]] = {
    "reward": ("reward", "mean reward (F1/EM)"),
    "noise_p": ("noise_p", "noise probability p (curriculum)"),
    "searches": ("searches_per_rollout", "searches per rollout"),
    "response_length": ("response_length", "model tokens per completion"),
}
"""File stem → (metric key, y-axis label)."""


def write_plots(run_dir: RunDir) -> list[Path]:
    """One PNG per metric under ``<run>/plots``; returns the files written (none without metrics)."""
    # Heavy dependency (matplotlib): imported on use, so importing this module stays light.
    import matplotlib

    matplotlib.use("Agg")  # files only, no display (workers and CI have none)
    # Heavy dependency (matplotlib): imported on use, so importing this module stays light.
    import matplotlib.pyplot as plt

    metrics = run_dir.read_metrics()
    if not metrics:
        log.warning("no metrics in %s: no plots", run_dir.metrics_file)
        return []
    run_dir.plots_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, (key, label) in PLOTS.items():
        points = [(m["step"], m[key]) for m in metrics if key in m]
        if not points:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([s for s, _ in points], [v for _, v in points], marker="o", markersize=3)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = run_dir.plots_dir / f"{stem}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def plot_curriculum(schedule: list[tuple[int, float]], path: Path) -> Path:
    """Plot a noise schedule (``zerosearch train curriculum --plot``)."""
    # Heavy dependency (matplotlib): imported on use, so importing this module stays light.
    import matplotlib

    matplotlib.use("Agg")
    # Heavy dependency (matplotlib): imported on use, so importing this module stays light.
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([s for s, _ in schedule], [p for _, p in schedule])
    ax.set_xlabel("step")
    ax.set_ylabel("noise probability p")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
