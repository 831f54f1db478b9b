"""The morning report: one self-contained HTML file (best-so-far curve, the space, every trial, the reasoning)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

from minivess.fileio import write_text_atomic
from minivess.pipelines.search.record import SearchRecord
from minivess.pipelines.search.trial_state import TrialRow


def best_so_far(rows: Sequence[TrialRow]) -> list[float]:
    """Best score after each finished trial, in trial order (failed trials repeat the previous best)."""
    best, out = 0.0, []
    for row in sorted(rows, key=lambda r: r.number):
        if row.state not in ("COMPLETE", "PRUNED", "FAIL") or row.interrupted:
            continue
        if row.score is not None:
            best = max(best, row.score)
        out.append(best)
    return out


def _curve_png(values: Sequence[float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(range(1, len(values) + 1), values, marker="o")
    ax.set_xlabel("trials finished")
    ax.set_ylabel("best val clDice so far")
    ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def write_report(path: Path, record: SearchRecord, rows: Sequence[TrialRow]) -> Path:
    """Write the report; returns its path."""
    esc = html.escape
    curve = best_so_far(rows)
    body = [
        f"<h1>Model search {esc(record.search_id)}</h1>",
        f"<p>Status <b>{esc(record.status)}</b>; {len(curve)} trial(s) finished in {record.spent_seconds / 60:.1f} "
        f"of {record.spec.budget_minutes:g} budget minute(s) over {record.sessions} driver session(s); "
        f"parent MLflow run <code>{esc(record.parent_run_id or '')}</code>.</p>",
    ]
    if record.promotion:
        p = record.promotion
        body.append(f"<h2>Decision</h2><p><b>{esc(str(p.get('outcome')))}</b>: {esc(str(p.get('reason')))}</p>")
    if curve:
        body.append(f'<h2>Best so far</h2><img alt="best so far" src="data:image/png;base64,{_curve_png(curve)}">')
    body.append("<h2>The agent's reasoning</h2><ul>")
    body += [f"<li>{esc(line)}</li>" for line in record.reasoning]
    body.append("</ul><h2>Rounds</h2><ul>")
    body += [f"<li>round {r.index + 1}: {r.trials} trial(s); {esc(r.space.describe())}</li>" for r in record.rounds]
    body.append("</ul><h2>Trials</h2><table><tr>")
    head = ("#", "state", "family", "loss", "optimizer", "lr", "val clDice", "epochs", "stop", "run", "error")
    body.append("".join(f"<th>{h}</th>" for h in head) + "</tr>")
    for row in sorted(rows, key=lambda r: r.number):
        cells = (
            str(row.number),
            row.state + (" (interrupted)" if row.interrupted else ""),
            str(row.config.get("family", "")),
            str(row.config.get("loss", "")),
            str(row.config.get("optimizer", "")),
            f"{row.config['lr']:.3g}" if "lr" in row.config else "",
            f"{row.score:.3f}" if row.score is not None else "",
            str(row.epochs),
            row.stop_reason,
            (row.run_id or "")[:8],
            row.error,
        )
        body.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    body.append("</table>")
    failed = [r for r in rows if r.state == "FAIL"]
    body.append(f"<h2>What failed ({len(failed)})</h2><ul>")
    body += [f"<li>trial {r.number}: {esc(r.error or 'no error recorded')}</li>" for r in failed]
    body.append("</ul><h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in record.notes) + "</ul>")
    style = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}td,th{border:1px solid #ccc;padding:2px 6px}"
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>search {esc(record.search_id)}</title>"
    page += f"<style>{style}table{{border-collapse:collapse}}</style></head><body>{''.join(body)}</body></html>"
    write_text_atomic(path, page)
    return path
