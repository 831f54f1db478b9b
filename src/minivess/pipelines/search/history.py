"""What the warehouse knows about past training runs, in the planner's terms (`PastRun`)."""

from __future__ import annotations

from minivess.pipelines.search.planning import PastRun
from minivess.settings import Settings

_PAST_RUNS_SQL = """
SELECT r.run_id, r.model_family, r.loss, r.status, coalesce(r.error, '') AS error,
       max(CASE WHEN p.key = 'optim.name' THEN p.value END) AS optimizer,
       max(CASE WHEN p.key = 'optim.lr' THEN p.value_num END) AS lr,
       max(CASE WHEN m.key = 'val_cldice' THEN m.best_value END) AS score
FROM runs r
LEFT JOIN params p ON p.run_id = r.run_id AND p.key IN ('optim.name', 'optim.lr')
LEFT JOIN metric_summary m ON m.run_id = r.run_id AND m.key = 'val_cldice'
WHERE r.run_kind = 'train' AND r.lifecycle_stage = 'active' AND r.status IN ('FINISHED', 'FAILED')
GROUP BY r.run_id, r.model_family, r.loss, r.status, r.error
ORDER BY r.run_id
"""


def past_runs(settings: Settings) -> list[PastRun]:
    """Every active finished or failed training run in the warehouse (synced first when MLflow changed)."""
    from minivess.pipelines.analytics.warehouse import Warehouse

    with Warehouse(settings).fresh_reader() as con:
        rows = con.execute(_PAST_RUNS_SQL).fetchall()
    out = []
    for run_id, family, loss, status, error, optimizer, lr, score in rows:
        if not family or lr is None:
            continue
        out.append(
            PastRun(
                run_id=str(run_id),
                family=str(family),
                loss=str(loss or "dice_ce"),
                optimizer=str(optimizer or "adamw"),
                lr=float(lr),
                status=str(status),
                score=None if score is None else float(score),
                error=str(error),
            )
        )
    return out
