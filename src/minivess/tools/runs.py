"""Run references the model may use: ids, id prefixes, 'last', 'best[:<family>[:<metric>]]', 'champion[:<model>]'."""

from __future__ import annotations

from typing import Any

from minivess.errors import AnalyticsError, ToolInputError, TrackingError, TrainingError
from minivess.tools.base import ToolContext

RUN_REF_HELP = (
    "a run id, a unique id prefix (≥ 6 characters), 'last', 'best', 'best:<family>', 'best:<family>:<metric>', "
    "'champion' or 'challenger' (optionally ':<registered model>')"
)
ALIAS_REFS = ("champion", "challenger")


def resolve_run_ref(ref: str, ctx: ToolContext) -> str:
    """A concrete MLflow run id; a reference that matches nothing goes back to the model as ToolInputError."""
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.refs import resolve_run_id

    ref = ref.strip()
    try:
        if ref == "best" or ref.startswith("best:"):
            return best_run(ref, ctx)
        if ref.split(":", 1)[0] in ALIAS_REFS:
            return alias_run(ref, ctx)
        return resolve_run_id(client_for(ctx.settings.tracking_uri), ref)
    except (TrainingError, AnalyticsError, TrackingError) as exc:
        raise ToolInputError(f"cannot resolve run '{ref}': {exc} Use {RUN_REF_HELP}.") from exc


def best_run(ref: str, ctx: ToolContext) -> str:
    """'best[:family[:metric]]' → the id of the best finished run (default metric val_dice)."""
    from minivess.pipelines import analytics

    parts = ref.split(":")
    family = parts[1].lower() if len(parts) > 1 and parts[1] else None
    metric = parts[2] if len(parts) > 2 and parts[2] else "val_dice"
    board = analytics.leaderboard(metric, by="family", limit=100, warehouse=analytics.Warehouse(settings=ctx.settings))
    rows = [r for r in board.rows if family is None or (r.group or "").lower() == family]
    if not rows:
        scope = f"{family} " if family else ""
        raise ToolInputError(f"there is no finished {scope}run with {metric} yet; train one first.")
    return str(rows[0].run.run_id)


def alias_run(ref: str, ctx: ToolContext) -> str:
    """'champion[:<model>]' / 'challenger[:<model>]' → the run behind that registry alias."""
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.registry import alias_ref, run_for_alias

    aliased = alias_ref(ref)
    if aliased is None:
        raise ToolInputError(f"'{ref}' is not a registry alias (champion or challenger).")
    return run_for_alias(client_for(ctx.settings.tracking_uri), *aliased)


def moves(ref: str) -> bool:
    """Whether a reference names a different run as time goes on ('last', 'best…', a registry alias), read as
    `resolve_run_ref` and `resolve_run_id` read it."""
    ref = ref.strip().rstrip("…").rstrip(".").strip()
    return ref in ("last", "best") or ref.startswith("best:") or ref.split(":", 1)[0] in ALIAS_REFS


def pin_run_id(args: Any, ctx: ToolContext) -> dict[str, str | None]:
    """`Tool.pin` of a tool whose run reference is its ``run_id`` argument: ``{"run_id": run id}`` when it moves,
    None for the id where it names no run now (the tool answers that when it runs); ids and prefixes name one run
    already and give ``{}``."""
    ref = getattr(args, "run_id", None)
    if ref is None or not moves(ref):
        return {}
    try:
        return {"run_id": resolve_run_ref(ref, ctx)}
    except ToolInputError:
        return {"run_id": None}
