"""Every rich Table, Panel and Progress the CLI shows lives here."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.measure import Measurement
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from rich.markdown import Markdown

console = Console()
err_console = Console(stderr=True)

RUN_ID_COLUMNS = frozenset({"run_id", "best run", "best_run"})
SHORT_RUN_ID = 8  # any unique prefix of at least 6 characters is a valid run reference
SHORT_IDS_CAPTION = (
    f"run ids cut to {SHORT_RUN_ID} characters (a unique prefix works wherever a run id does); "
    "widen the terminal or use --format csv for full ids"
)
_CODE_OR_LT = re.compile(r"(`+)[\s\S]*?\1|<")


def error_panel(title: str, message: str) -> None:
    """Show an error the user can act on (stderr)."""
    err_console.print(Panel(message, title=f"[bold red]{title}", border_style="red", expand=False))


def error_line(title: str, message: str) -> None:
    """An error in one line on stderr (never wrapped), for problems found before any work started."""
    err_console.print(f"[bold red]{title}:[/] {message}", soft_wrap=True, highlight=False)


def key_value_table(title: str, rows: Mapping[str, Any]) -> Table:
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    for key, value in rows.items():
        table.add_row(key, "" if value is None else str(value))
    return table


def key_values(title: str, report: Any, as_json: bool) -> None:
    """A pydantic report as a key/value table, or as JSON on stdout for scripts (``--json``)."""
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        console.print(key_value_table(title, report.model_dump()))


def records_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A plain table: floats get 4 significant digits, None an empty cell, run ids never wrapped."""
    data = [list(row) for row in rows]
    ids = [is_run_id_column(c) for c in columns]

    def build(id_chars: int | None) -> Table:
        table = Table(title=title, header_style="bold")
        for column, is_id in zip(columns, ids, strict=True):
            table.add_column(column, overflow="fold", no_wrap=is_id, min_width=id_chars if is_id else None)
        for row in data:
            table.add_row(*(run_id_cell(v, id_chars) if is_id else cell(v) for v, is_id in zip(row, ids, strict=False)))
        return table

    return fit_run_ids(build)


def is_run_id_column(name: str) -> bool:
    """Whether a column (a dotted path such as ``run.run_id`` too) holds run ids."""
    return name.rsplit(".", 1)[-1] in RUN_ID_COLUMNS


def run_id_cell(value: Any, id_chars: int | None) -> str:
    """A run id whole, or its first ``id_chars`` characters (still a valid reference) when the table is narrow."""
    text = cell(value)
    return text if id_chars is None or len(text) <= id_chars else text[:id_chars]


def fit_run_ids(build: Callable[[int | None], Table], out: Console | None = None) -> Table:
    """The table with full run ids when it fits the terminal, else with ids cut short — never folded over lines.

    Args:
        build: Makes the table; its argument is how many characters of each run id to show (None: all).
        out: The console it will be printed on (default: stdout's).
    """
    out = out or console
    table = build(None)
    if Measurement.get(out, out.options.update_width(100_000), table).maximum <= out.width:
        return table
    short = build(SHORT_RUN_ID)
    short.caption = SHORT_IDS_CAPTION
    return short


def markdown(text: str) -> Markdown:
    """Markdown for an answer, with every ``<`` outside code escaped, so ``best:<family>`` is not eaten as HTML."""
    from rich.markdown import Markdown  # markdown-it loads only when an answer is shown

    return Markdown(_CODE_OR_LT.sub(lambda m: "\\<" if m.group(0) == "<" else m.group(0), text))


def cell(value: Any, limit: int | None = None) -> str:
    """One table cell: floats to 4 significant digits, None empty, text cut to `limit` characters."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = value if isinstance(value, str) else str(value)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def progress() -> Progress:
    """The progress bar used for long work (generation, training, evaluation)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    )


def dataset_table(root: Any, version: str, rows: Sequence[Any]) -> Table:
    """`minivess data info`: one row per volume (VolumeSummary objects)."""
    mip_dirs = {str(r.mip_png.parent) for r in rows if r.mip_png}
    caption = f"MIP PNGs in {', '.join(sorted(mip_dirs))}" if mip_dirs else None
    table = Table(title=f"{root}  (version {version}, {len(rows)} volumes)", header_style="bold", caption=caption)
    for column in ("id", "shape", "spacing µm", "vessel %", "mean", "p99", "MIP"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r.id,
            "×".join(map(str, r.shape)),
            "×".join(f"{s:.3g}" for s in r.spacing),
            f"{100 * r.vessel_fraction:.2f}",
            f"{r.intensity_mean:.3g}",
            f"{r.intensity_p99:.3g}",
            r.mip_png.name if r.mip_png else "",
        )
    return table


class TrainingProgress:
    """Rich progress for a training run (implements the engine's TrainingObserver)."""

    def __init__(self) -> None:
        self.bar = progress()
        self.task: Any = None

    def __enter__(self) -> TrainingProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)

    def run_started(self, run_id: str, start_epoch: int, epochs: int) -> None:
        verb = "resuming" if start_epoch > 1 else "training"
        self.bar.console.print(f"[bold]{verb}[/] run [cyan]{run_id}[/] (epochs {start_epoch}–{epochs})")

    def epoch_started(self, epoch: int, steps: int) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(f"epoch {epoch}", total=steps, status="")

    def step_finished(self, epoch: int, step: int, loss: float) -> None:
        self.bar.update(self.task, completed=step, status=f"loss {loss:.4f}")

    def epoch_finished(self, epoch: int, metrics: dict[str, float]) -> None:
        shown = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "lr")
        self.bar.console.print(f"epoch {epoch}: {shown}")

    def run_finished(self, run_id: str, status: str, reason: str) -> None:
        self.bar.console.print(f"[green]{status}[/] run [cyan]{run_id}[/] ({reason})")


def metrics_table(title: str, per_volume: Sequence[tuple[str, Any]], summary: Mapping[str, float]) -> Table:
    """Per-volume metrics (VolumeMetrics objects) plus a mean row."""
    names = list(per_volume[0][1].model_dump()) if per_volume else []
    table = Table(title=title, header_style="bold")
    table.add_column("volume")
    for name in names:
        table.add_column(name, justify="right")
    for vid, metrics in per_volume:
        table.add_row(vid, *(cell(v) for v in metrics.model_dump().values()))
    table.add_row("[bold]mean", *(f"[bold]{cell(summary.get(k))}" for k in summary), end_section=True)
    return table


def schema_table(name: str, meaning: str, columns: Iterable[Sequence[str]]) -> Table:
    """One warehouse table or view: each column with its type and meaning."""
    table = Table(title=f"[bold]{name}[/] — {meaning}", title_justify="left", header_style="bold")
    table.add_column("column")
    table.add_column("type")
    table.add_column("meaning", overflow="fold")
    for column, typ, text in columns:
        table.add_row(column, typ, text)
    return table


def note(message: str) -> None:
    """A short remark for the user on stderr (so stdout stays clean for exports)."""
    err_console.print(f"[dim]{message}")
