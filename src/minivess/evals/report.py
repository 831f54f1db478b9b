"""The offline dashboard: one self-contained HTML page (PNGs inline) from the local score history."""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from minivess.evals import SUITE_NAMES
from minivess.evals.gate import Floors
from minivess.evals.history import CaseRecord, Regression, RunSummary, regressions, summarize_runs

logger = logging.getLogger(__name__)

MAX_TICKS = 12
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;color:#1f2330;
padding:0 1rem;line-height:1.4}
h1{margin-bottom:.2rem}h2{margin-top:2.4rem;border-bottom:2px solid #e3e6ee;padding-bottom:.3rem}
.meta{color:#5b6275;font-size:.92rem}table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #dde1ea;padding:.3rem .6rem;text-align:left}th{background:#f3f5f9}
td.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#17803d;font-weight:600}
.fail{color:#c0262d;font-weight:600}.none{color:#5b6275;font-style:italic}img{max-width:100%;
border:1px solid #e3e6ee}details{margin:.4rem 0 1rem}summary{cursor:pointer;color:#2f4fa8}
code{background:#f3f5f9;padding:0 .25rem;border-radius:3px}
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def score_plot(runs: Sequence[RunSummary], floors: dict[str, float]) -> bytes:
    """PNG: mean score per scorer over the suite's runs (oldest left), floors dashed, dataset changes dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scorers = sorted({name for run in runs for name in run.means})
    fig, ax = plt.subplots(figsize=(9, 3.8))
    try:
        xs = list(range(len(runs)))
        for index, scorer in enumerate(scorers):
            color = plt.get_cmap("tab10")(index % 10)
            ys = [run.means.get(scorer, float("nan")) for run in runs]
            marker = MARKERS[index % len(MARKERS)]  # scorers with equal means overlap: markers tell them apart
            ax.plot(xs, ys, marker=marker, markersize=5, linewidth=1.5, color=color, label=scorer, alpha=0.9)
            if scorer in floors:
                ax.axhline(floors[scorer], color=color, linestyle="--", linewidth=0.9, alpha=0.7)
        for x in range(1, len(runs)):
            if runs[x].dataset_version != runs[x - 1].dataset_version:
                ax.axvline(x - 0.5, color="#888888", linestyle=":", linewidth=1)
        step = max(1, len(runs) // MAX_TICKS)
        ticks = xs[::step]
        ax.set_xticks(ticks, [runs[i].when.strftime("%m-%d %H:%M") for i in ticks], rotation=30, fontsize=8)
        ax.set_ylim(_lower_limit(runs, floors), 1.01)
        ax.set_xlim(-0.5, max(len(runs) - 0.5, 0.5))
        ax.set_ylabel("mean score")
        ax.grid(alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
        ax.set_title("dashed: floors · dotted: dataset changed", fontsize=8, color="#5b6275", loc="right")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _lower_limit(runs: Sequence[RunSummary], floors: dict[str, float]) -> float:
    """Zoom in on the range the scores use (differences of a few cases matter), never below 0."""
    values = [v for run in runs for v in run.means.values()] + list(floors.values())
    lowest = min(values, default=0.0)
    return max(-0.01, min(lowest - 0.05, 0.9))


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _score_table(latest: RunSummary, previous: RunSummary | None, floors: dict[str, float]) -> str:
    rows = []
    for scorer in sorted(set(latest.means) | set(floors)):
        mean, before, floor = (
            latest.means.get(scorer),
            previous.means.get(scorer) if previous else None,
            floors.get(scorer),
        )
        delta = "" if mean is None or before is None else f"{mean - before:+.3f}"
        if floor is None:
            status = '<span class="none">no floor</span>'
        elif mean is not None and mean >= floor - 1e-9:
            status = '<span class="ok">ok</span>'
        else:
            status = '<span class="fail">below floor</span>'
        rows.append(
            f"<tr><td>{_e(scorer)}</td><td class=num>{_fmt(mean)}</td><td class=num>{_fmt(before)}</td>"
            f"<td class=num>{delta}</td><td class=num>{_fmt(floor)}</td><td>{status}</td></tr>"
        )
    head = "<tr><th>scorer</th><th>latest</th><th>previous</th><th>Δ</th><th>floor</th><th>gate</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _regression_table(found: Sequence[Regression]) -> str:
    if not found:
        return '<p class="none">No case got worse.</p>'
    rows = "".join(
        f"<tr><td>{_e(r.case_id)}</td><td>{_e(r.scorer)}</td><td class=num>{_fmt(r.before)}</td>"
        f"<td class=num>{_fmt(r.after)}</td><td>{_e(r.error or '')}</td></tr>"
        for r in found
    )
    return f"<table><tr><th>case</th><th>scorer</th><th>before</th><th>after</th><th>error</th></tr>{rows}</table>"


def _failing_cases(records: Sequence[CaseRecord]) -> str:
    rows = []
    for record in records:
        low = {k: v for k, v in record.scores.items() if v is not None and v < 1.0}
        if low or record.error:
            scores = ", ".join(f"{k} {v:.2f}" for k, v in sorted(low.items()))
            rows.append(f"<tr><td>{_e(record.case_id)}</td><td>{_e(scores)}</td><td>{_e(record.error or '')}</td></tr>")
    if not rows:
        return '<p class="none">Every case scored 1.0 on every scorer.</p>'
    table = f"<table><tr><th>case</th><th>scores below 1</th><th>error</th></tr>{''.join(rows)}</table>"
    return f"<details><summary>{len(rows)} case(s) below 1.0 in the latest run</summary>{table}</details>"


def _runs_table(runs: Sequence[RunSummary]) -> str:
    rows = "".join(
        f"<tr><td><code>{_e(r.run_id)}</code></td><td>{_e(r.when.strftime('%Y-%m-%d %H:%M'))}</td>"
        f"<td>{_e(r.model)}</td>"
        f"<td><code>{_e(r.commit[:12])}</code>{' (dirty)' if r.commit.endswith('-dirty') else ''}</td>"
        f"<td><code>{_e(r.dataset_version)}</code></td><td class=num>{r.cases}</td><td class=num>{r.errors}</td></tr>"
        for r in reversed(runs)
    )
    head = "<tr><th>run</th><th>started (UTC)</th><th>model</th><th>commit</th><th>dataset</th><th>cases</th>"
    table = f"<table>{head}<th>errors</th></tr>{rows}</table>"
    return f"<details><summary>all {len(runs)} run(s)</summary>{table}</details>"


def _suite_section(suite: str, runs: Sequence[RunSummary], floors: dict[str, float]) -> str:
    latest = runs[-1]
    previous = runs[-2] if len(runs) > 1 else None
    meta = (
        f"latest run <code>{_e(latest.run_id)}</code> · {_e(latest.when.strftime('%Y-%m-%d %H:%M UTC'))} · "
        f"model <code>{_e(latest.model)}</code> · commit <code>{_e(latest.commit[:12])}</code> · "
        f"dataset <code>{_e(latest.dataset_version)}</code> · {latest.cases} cases, {latest.errors} errors"
    )
    if previous is None:
        regressed = '<p class="none">Only one run so far: nothing to compare with.</p>'
        since = ""
    else:
        regressed = _regression_table(regressions(previous, latest))
        since = f" (run <code>{_e(previous.run_id)}</code> → <code>{_e(latest.run_id)}</code>)"
    return (
        f"<h2>{_e(suite)}</h2><p class=meta>{meta}</p>{_score_table(latest, previous, floors)}"
        f"{_img(score_plot(runs, floors), f'{suite} scores over time')}"
        f"<h3>Regressed since the previous run{since}</h3>{regressed}"
        f"{_failing_cases(latest.records)}{_runs_table(runs)}"
    )


def render_report(records: Sequence[CaseRecord], floors: Floors, *, source: Path | None = None) -> str:
    """The dashboard HTML: per suite the latest scores vs floors, a score-over-time plot, regressed cases."""
    by_suite = summarize_runs(records)
    order = [s for s in SUITE_NAMES if s in by_suite] + sorted(s for s in by_suite if s not in SUITE_NAMES)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = f" from <code>{_e(source)}</code>" if source else ""
    body = "".join(_suite_section(s, by_suite[s], floors.for_suite(s)) for s in order)
    if not order:
        body = '<p class="none">No eval runs recorded yet: run <code>minivess evals run</code>.</p>'
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>minivess evals</title>"
        f"<style>{STYLE}</style></head><body><h1>minivess evals</h1>"
        f"<p class=meta>Generated {generated}{where}: {len(records)} case scores in "
        f"{sum(len(v) for v in by_suite.values())} run(s).</p>{body}</body></html>\n"
    )


def write_report(records: Sequence[CaseRecord], floors: Floors, out: Path, *, source: Path | None = None) -> Path:
    """Render the dashboard and write it to ``out`` (parent folders created)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(records, floors, source=source), encoding="utf-8")
    logger.info("wrote eval report %s", out)
    return out
