"""Learning-curve PNGs with matplotlib (Agg: no display needed)."""

from __future__ import annotations

import logging
from pathlib import Path

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics.models import LearningCurves

logger = logging.getLogger(__name__)


def plot_learning_curves(curves: LearningCurves, path: Path, *, title: str | None = None) -> Path:
    """Write one panel per metric, one line per run, step (epoch) on x.

    Args:
        curves: Histories from ``learning_curves``.
        path: Where to write the PNG (parent folders are created).
        title: Figure title; default none.

    Returns:
        The path written.

    Raises:
        AnalyticsError: There is nothing to plot.
    """
    if not curves.series:
        raise AnalyticsError(
            f"No history for metrics {', '.join(curves.metrics)} in these runs; check the metric names with "
            '`minivess runs sql "SELECT DISTINCT key FROM metrics"`.'
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in curves.metrics if any(s.key == m for s in curves.series)]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(7, 3.2 * len(metrics)), squeeze=False)
    try:
        for ax, metric in zip(axes[:, 0], metrics, strict=True):
            for series in (s for s in curves.series if s.key == metric):
                values = [float("nan") if v is None else v for v in series.values]
                label = series.run_name or series.run_id[:8]
                ax.plot(series.steps, values, marker="o", markersize=2.5, linewidth=1.2, label=label)
            ax.set_xlabel("epoch (step)")
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    logger.info("wrote learning curves to %s", path)
    return path
