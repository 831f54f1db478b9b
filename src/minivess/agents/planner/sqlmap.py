"""Questions answered with SQL over the run warehouse: SQL the user typed, or canned queries we write."""

from __future__ import annotations

import re
from typing import Final

from minivess.agents.planner.lexicon import NUM, families_in, first_metric, parse_int, parse_number
from minivess.agents.planner.slots import directories, row_cap

_TABLES: Final = (
    r"(?:runs|params|tags|metrics|metric_summary|experiments|registered_models|model_versions|model_aliases"
    r"|params_wide)"
)
# A query starts at SELECT or at a CTE ("WITH x AS (…"): "run this with at most 50 rows: SELECT …" starts at SELECT.
_START: Final = r"(?:select\b|with\s+(?:recursive\s+)?\w+\s*(?:\([^)]*\)\s*)?as\s*\()"
_LITERAL: Final = re.compile(
    rf"(?:```(?:sql)?\s*)?(?<![\w])((?i:{_START}).*?\bfrom\s+(?:\(|{_TABLES}\b).*?)\s*(?:```|$)", re.I | re.S
)
# Words after a typed query that address the assistant, not the database: "… GROUP BY loss against the warehouse"
_TRAILING_WORDS: Final = re.compile(
    r"(?:\s+(?:against|on|in|over|from)\s+(?:the\s+|our\s+|my\s+)?(?:run\s+)?(?:warehouse|database|db))?"
    r"(?:\s+for\s+me)?(?:\s*\((?:max|up\s+to|at\s+most|limit(?:ed)?\s+to)\s+\d+\s+rows?\))?"  # "(max 5 rows)": a cap
    # "… but give me up to 5000 rows", "… with max_rows 50", ", at most 20 rows": a cap said after the query
    r"(?:\s*[,;]?\s+(?:(?:but|and|with)\s+)?(?:(?:give\s+me|return|show(?:\s+me)?)\s+)?"
    r"(?:(?:up\s+to|at\s+most|max(?:imum)?(?:\s+of)?|no\s+more\s+than)\s+\d+\s+rows?|max_rows\s*(?:[=:]|\s+of)?\s*\d+))?"
    r"(?:\s*,?\s+please)?\s*[.?!]?\s*$",
    re.I,
)
_INLINE: Final = re.compile(rf"(?<!`)`({_START}[^`]*?\bfrom\s+(?:\(|{_TABLES}\b)[^`]*)`(?!`)", re.I | re.S)
_QUOTED: Final = re.compile(rf"([\"'])({_START}.*?\bfrom\s+(?:\(|{_TABLES}\b).*?)\1(?=\s|$|[,;.])", re.I | re.S)
_I: Final = re.I
_COUNT: Final = re.compile(r"\b(?:how\s+many|number\s+of|count(?:\s+(?:of|the|all))?|total\s+(?:number\s+of\s+)?)"
                           r"\s+(?:\w+\s+){0,3}?runs?\b", _I)  # fmt: skip
_PER_FAMILY: Final = re.compile(
    r"\b(?:per|by|for\s+each|of\s+each|across|each)\s+(?:model\s+)?(?:famil(?:y|ies)|models?|architectures?)\b", _I
)
# "how many runs are in each experiment", "finished runs per experiment", "which experiments exist"
_PER_EXPERIMENT: Final = re.compile(
    r"\b(?:per|by|for\s+each|of\s+each|in\s+each|each)\s+experiments?\b|\bruns\s+(?:are\s+)?in\s+each\b"
    r"|\b(?:which|what)\s+experiments\s+(?:exist|are\s+there|do\s+we\s+have)\b"
    r"|\b(?:list|show)\s+(?:me\s+)?(?:all\s+|the\s+)?experiments\b",
    _I,
)
_PER_LOSS: Final = re.compile(r"\b(?:per|by|for\s+each|of\s+each|across|each)\s+loss(?:es|\s+functions?)?\b", _I)
_AVERAGE: Final = re.compile(r"\b(?:average|mean|avg|typical)\b", _I)
_AVG_TIME: Final = re.compile(
    r"\b(?:average|mean|typical)\b.{0,30}\b(?:duration|run\s*time|runtime|time|long)\b"
    r"|\bhow\s+long\b.{0,40}\b(?:on\s+average|average|typically|usually)\b|\bhow\s+long\s+do\s+runs\b",
    _I,
)
_ACTIVE: Final = re.compile(r"\b(?:still|currently)\s+running\b|\bin\s+progress\b|\bunfinished\b", _I)
_LONGEST: Final = re.compile(r"\b(?:longest|slowest|took\s+the\s+longest|most\s+time)\b", _I)
_SHORTEST: Final = re.compile(r"\b(?:shortest|fastest|quickest|least\s+time)\b", _I)
_TOTAL_TIME: Final = re.compile(r"\btotal\s+(?:training\s+|compute\s+|run\s+|wall[\s-]?clock\s+)?time\b"
                                r"|\bhow\s+much\s+(?:compute|time|training\s+time)\b", _I)  # fmt: skip
_LIST: Final = re.compile(r"\b(?:list|show|see|display|give\s+me|what|which)\b.{0,25}\bruns\b"
                          r"|\bruns\s+(?:so\s+far|we\s+have)|\b(?:list|show|display)\s+(?:me\s+)?(?:every|each|all)\s+(?:\w+\s+)?runs?\b"
                          r"|\b(?:recent|latest|last\s+\S+)\s+runs\b"
                          r"|\b(?:list|show|display|give\s+me)\b.{0,40}\b(?:every|each|all)\s+(?:\w+\s+)?runs?\b",
                          _I)  # fmt: skip
_RANKING: Final = re.compile(
    r"\b(?:best|top|leader[\s-]?board|rank\w*|highest|lowest|worst|compare|curves?|why|fail\w*|crash\w*|errors?)\b", _I
)
_LIMIT: Final = re.compile(rf"\b(?:last|latest|recent|first|top)\s+({NUM})\s+runs\b|\b({NUM})\s+(?:most\s+recent|latest"
                           r"|last|newest|longest|slowest|shortest|fastest|quickest)\s+runs\b", _I)  # fmt: skip
# "runs that used a learning rate above 0.005": a condition on a logged parameter
_PARAM_KEYS: Final[tuple[tuple[str, str], ...]] = (
    ("optim.lr", r"learning[\s-]+rates?|lrs?"),
    ("trainer.batch_size", r"batch[\s_-]?sizes?"),
    ("trainer.epochs", r"epochs?"),
    ("trainer.seed", r"seeds?"),
)
_PARAM_OPS: Final[tuple[tuple[str, str], ...]] = (
    (">=", r"at\s+least|>="), ("<=", r"at\s+most|<="),
    (">", r"above|over|greater\s+than|more\s+than|higher\s+than|larger\s+than|bigger\s+than|>"),
    ("<", r"below|under|less\s+than|lower\s+than|smaller\s+than|<"), ("=", r"of|=|equal\s+to|exactly"),
)  # fmt: skip
_PARAM_CONDITION: Final = re.compile(
    r"\b(?P<param>" + "|".join(f"(?P<k{i}>{p})" for i, (_, p) in enumerate(_PARAM_KEYS)) + r")\s+"
    r"(?:(?:was|is|of|set\s+to)\s+)?(?P<op>"
    + "|".join(f"(?P<o{i}>{p})" for i, (_, p) in enumerate(_PARAM_OPS))
    + r")\s*(?P<n>\d+(?:\.\d+)?(?:e-?\d+)?)(?![\w.])",
    _I,
)
_STATUS: Final[tuple[tuple[str, str], ...]] = (
    ("FAILED", r"\bfail(?:ed|ing|ures?)?\b|\bcrash\w*"),
    ("FINISHED", r"\b(?:finished|successful|succeeded|completed|complete|done)\b"),
    ("KILLED", r"\b(?:killed|cancell?ed|aborted)\b"),
    ("RUNNING", r"\b(?:still\s+running|currently\s+running|running\s+now|in\s+progress|active|unfinished)\b"),
)
_PERIODS: Final[tuple[tuple[str, str], ...]] = (
    (r"\btoday\b", "r.start_time >= current_date"),
    (r"\byesterday\b", "r.start_time >= current_date - INTERVAL 1 DAY AND r.start_time < current_date"),
    (r"\bthis\s+week\b|\blast\s+(?:7|seven)\s+days\b|\bpast\s+week\b", "r.start_time >= current_date - INTERVAL 7 DAY"),
    (
        r"\blast\s+24\s+hours\b|\bpast\s+day\b|\blast\s+day\b",
        "r.start_time >= CAST(now() AS TIMESTAMP) - INTERVAL 1 DAY",
    ),
)
_RUN_COLUMNS: Final = (
    "r.run_id, r.run_name, r.model_family, r.loss, r.status, r.start_time, round(r.duration_s / 60, 2) AS minutes"
)
REGISTRY_COUNT_SQL: Final = (
    "SELECT count(DISTINCT m.name) AS n_models, count(v.version) AS n_versions FROM registered_models m "
    "LEFT JOIN model_versions v ON v.name = m.name"
)
REGISTRY_SQL: Final = (
    "SELECT a.name, a.alias, a.version, v.run_id FROM model_aliases a "
    "LEFT JOIN model_versions v ON v.name = a.name AND v.version = a.version ORDER BY a.name, a.alias"
)


def literal_sql(text: str) -> str | None:
    """The SELECT (or WITH … SELECT) the user typed, over the warehouse tables; None when there is none."""
    inline = _INLINE.search(text)
    if inline is None and (quoted := _QUOTED.search(text)):  # sql="SELECT …": inside its quotes
        return quoted.group(2).strip().rstrip(";").strip() or None
    match = inline or _LITERAL.search(text)
    if not match:
        return None
    sql = match.group(1) if inline else _TRAILING_WORDS.sub("", match.group(1))
    return sql.strip().rstrip(";").strip() or None


def _conditions(text: str) -> list[str]:
    conditions: list[str] = []
    for status, pattern in _STATUS:
        if re.search(pattern, text, _I):
            conditions.append(f"r.status = '{status}'")
            break
    families = families_in(text)
    if families:
        conditions.append(f"r.model_family = '{families[0][2]}'")
    if re.search(r"cl[\s_-]?dice\s+loss|\b(?:with|using|trained\s+with)\s+cl[\s_-]?dice|topolog", text, _I):
        conditions.append("r.loss = 'dice_ce_cldice'")
    for pattern, condition in _PERIODS:
        if re.search(pattern, text, _I):
            conditions.append(condition)
            break
    for found in _PARAM_CONDITION.finditer(text):
        conditions.append(_param_condition(found))
    if took := _TOOK.search(text):
        conditions.append(_duration_condition(took))
    if data := _DATA_DIR.search(text):
        conditions.append(_data_condition(text[data.end() :]))
    return [condition for condition in conditions if condition]


# "runs trained on data/minivess": the training folder is the run's data.dir parameter (an absolute path there).
_DATA_DIR: Final = re.compile(
    r"\b(?:trained|run|fit|fitted)\s+(?:on|with|using)\s+(?:the\s+)?(?:data(?:set)?\s+)?(?=\S*/)", _I
)


# "runs that took longer than 10 minutes", "shorter than an hour", "runs over 2 hours"
_TOOK: Final = re.compile(
    rf"\b(?P<dir>longer|more|over|shorter|less|under|fewer)(?:\s+than)?\s+(?P<n>{NUM})\s*"
    r"(?P<unit>hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b",
    _I,
)
_SECONDS: Final = {"h": 3600, "m": 60, "s": 1}
_TOOK_RUNS: Final = re.compile(
    r"\bruns?\b.{0,30}\b(?:took|lasted|ran|running|run\s+time)\s+(?:longer|more|over|shorter|less|under)\b", _I
)


def _param_condition(match: re.Match[str]) -> str:
    key = next(k for i, (k, _) in enumerate(_PARAM_KEYS) if match.group(f"k{i}"))
    op = next(o for i, (o, _) in enumerate(_PARAM_OPS) if match.group(f"o{i}"))
    return (
        "r.run_id IN (SELECT p.run_id FROM params p WHERE p.key = "
        f"'{key}' AND TRY_CAST(p.value AS DOUBLE) {op} {match.group('n')})"
    )


def _duration_condition(match: re.Match[str]) -> str:
    value = parse_number(match.group("n"))
    if value is None:
        return ""
    factor = _SECONDS[match.group("unit")[0].lower()]
    op = ">" if match.group("dir").lower() in ("longer", "more", "over") else "<"
    written = match.group("n") if re.fullmatch(r"[\d.]+", match.group("n")) else f"{value:g}"
    return f"r.duration_s {op} {written} * {factor}"


def _data_condition(rest: str) -> str:
    found = directories(rest)
    if not found or found[0][1] != 0:
        return ""
    folder = found[0][0].rstrip("/").replace("'", "''")
    relative = "" if folder.startswith(("/", "~")) else f" OR p.value LIKE '%/{folder.removeprefix('./')}'"
    return f"r.run_id IN (SELECT p.run_id FROM params p WHERE p.key = 'data.dir' AND (p.value = '{folder}'{relative}))"


def _where(conditions: list[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def _count_sql(text: str) -> str:
    conditions = _conditions(text)
    if _PER_EXPERIMENT.search(text):
        return (f"SELECT r.experiment_name, count(*) AS n_runs FROM runs r{_where(conditions)} "
                "GROUP BY r.experiment_name ORDER BY n_runs DESC")  # fmt: skip
    if _PER_FAMILY.search(text):
        return (f"SELECT r.model_family, count(*) AS n_runs FROM runs r{_where(conditions)} "
                "GROUP BY r.model_family ORDER BY n_runs DESC")  # fmt: skip
    if _PER_LOSS.search(text):
        return f"SELECT r.loss, count(*) AS n_runs FROM runs r{_where(conditions)} GROUP BY r.loss ORDER BY n_runs DESC"
    return f"SELECT count(*) AS n_runs FROM runs r{_where(conditions)}"


def _average_sql(text: str) -> str:
    metric = first_metric(text) or "val_dice"
    order = "ASC" if metric.endswith(("hd95", "loss")) else "DESC"
    column = f"mean_best_{metric}"
    conditions = [f"s.key = '{metric}'", *_conditions(text)]
    base = f"FROM runs r JOIN metric_summary s ON s.run_id = r.run_id{_where(conditions)}"
    for pattern, group in ((_PER_FAMILY, "r.model_family"), (_PER_LOSS, "r.loss")):
        if pattern.search(text):
            return (f"SELECT {group}, count(*) AS n_runs, round(avg(s.best_value), 4) AS {column} {base} "
                    f"GROUP BY {group} ORDER BY {column} {order}")  # fmt: skip
    return f"SELECT count(*) AS n_runs, round(avg(s.best_value), 4) AS {column} {base}"


def _duration_sql(text: str, order: str) -> str:
    conditions = ["r.duration_s IS NOT NULL", *_conditions(text)]
    limit = _limit(text) or 1
    return f"SELECT {_RUN_COLUMNS} FROM runs r{_where(conditions)} ORDER BY r.duration_s {order} LIMIT {limit}"


def _limit(text: str) -> int | None:
    """ "the last 5 runs", else the row cap asked for ("up to 500 rows"), at most 1000."""
    match = _LIMIT.search(text)
    if not match:
        cap = row_cap(text)
        return max(1, min(cap, 1000)) if cap else None
    value = parse_int(match.group(1) or match.group(2) or "")
    return max(1, min(value, 1000)) if value else None


def canned_sql(text: str) -> str | None:
    """A read-only query answering a common question about runs, or None when no canned query fits."""
    if _COUNT.search(text) or _PER_EXPERIMENT.search(text):
        return _count_sql(text)
    if _AVG_TIME.search(text):
        where = _where(["r.duration_s IS NOT NULL", *_conditions(text)])
        return f"SELECT count(*) AS n_runs, round(avg(r.duration_s) / 60, 2) AS mean_minutes FROM runs r{where}"
    if _AVERAGE.search(text) and (first_metric(text) or re.search(r"\bdice\b|\bscores?\b", text, _I)):
        return _average_sql(text)
    if re.search(r"\bruns?\b|\btraining\b", text, _I):
        if _LONGEST.search(text):
            return _duration_sql(text, "DESC")
        if _SHORTEST.search(text):
            return _duration_sql(text, "ASC")
    if _TOTAL_TIME.search(text):
        where = _where(_conditions(text))
        return f"SELECT count(*) AS n_runs, round(sum(r.duration_s) / 60, 1) AS total_minutes FROM runs r{where}"
    if (_LIST.search(text) or _ACTIVE.search(text) or _TOOK_RUNS.search(text)) and not _RANKING.search(text):
        limit = _limit(text) or 20
        return f"SELECT {_RUN_COLUMNS} FROM runs r{_where(_conditions(text))} ORDER BY r.start_time DESC LIMIT {limit}"
    return None
