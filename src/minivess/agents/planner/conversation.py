"""Reading an OpenAI-style conversation defensively: user turns, tool answers, run ids, answered questions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from minivess.agents.planner.clauses import normalize
from minivess.agents.planner.models import History, Plan, ToolOutcome
from minivess.agents.planner.plan import build_plan
from minivess.agents.planner.resolve import REVIEW_TOOLS, run_id_of

TRANSFER_PREFIX: Final = "transfer_"  # hand-offs both ways (transfer_to_x, transfer_back_to_supervisor)
HANDOFF_PREFIX: Final = "transfer_to_"  # a supervisor handing work down
_MAX_CHAIN: Final = 6
_DROP: Final = re.compile(
    r"^\s*(?:drop|ignore|remove|skip|forget|leave\s+out|never\s*mind)\b(?:\s+(?:it|that|this))?[\s.!]*$", re.I
)
_RUN_ID_TEXT: Final = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_ANSWER_NUMBER: Final = re.compile(r"(?<![\w.])(?:\d+(?:\.\d+)?(?:e[-+]?\d+)?|\.\d+)(?![\w.])", re.I)
_ANSWER_VERB: Final = re.compile(
    r"\b(?:train|retrain|evaluate|compare|show|plot|promote|segment|predict|generate|synthesi[sz]e|list|describe"
    r"|help|leaderboard|rank|calibrate|ensemble|soup)\b",
    re.I,
)


def as_dict(item: Any) -> dict[str, Any] | None:
    """A message or tool entry as a dict: dicts as they are, pydantic objects (LiteLLM's Message) dumped."""
    if isinstance(item, dict):
        return item
    dump = getattr(item, "model_dump", None)
    if callable(dump):
        try:
            data = dump()
        except (TypeError, ValueError):
            return None
        return data if isinstance(data, dict) else None
    return None


def text_of(content: Any) -> str:
    """Message content as text (a string, or OpenAI content parts); '' for anything else."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "\n".join(parts)
    return ""


def _calls(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, name, arguments) of an assistant message's tool calls."""
    found: list[tuple[str, str, str]] = []
    for call in message.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else call
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str):
            raw = function.get("arguments") if isinstance(function, dict) else None
            found.append((str(call.get("id") or ""), name, raw if isinstance(raw, str) else json.dumps(raw or {})))
    return found


def outcome_of(name: str, content: str) -> ToolOutcome:
    """A tool message's content as ok (parsed JSON when possible), error or rejected."""
    stripped = content.strip()
    if stripped.upper().startswith("ERROR:"):
        return ToolOutcome(name, "error", stripped[6:].strip())
    if stripped.upper().startswith("REJECTED:"):
        return ToolOutcome(name, "rejected", stripped[9:].strip())
    try:
        data: Any = json.loads(stripped)
    except (json.JSONDecodeError, ValueError):
        data = None
    return ToolOutcome(name, "ok", stripped, data)


@dataclass
class Conversation:
    """The parts of a message list the planner needs."""

    messages: list[dict[str, Any]]
    users: list[int] = field(default_factory=list)
    outcomes: dict[int, ToolOutcome] = field(default_factory=dict)
    transfers: list[int] = field(default_factory=list)
    texts: list[int] = field(default_factory=list)
    trainings: dict[int, dict[str, Any]] = field(default_factory=dict)  # tool message index → train arguments
    reviews: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)  # → (folder, new version)
    arguments: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # tool message → (tool, args)
    text_runs: dict[int, list[str]] = field(default_factory=dict)  # assistant text → the run ids it names

    @classmethod
    def parse(cls, raw: list[dict[str, Any]] | None) -> Conversation:
        """Index a message list; malformed entries are skipped, never raised on."""
        messages = [m for m in (as_dict(item) for item in raw or []) if m is not None]
        view = cls(messages)
        names: dict[str, str] = {}
        arguments_of: dict[str, str] = {}
        task = ""  # the latest hand-off's task, until anything but tool messages follows it
        for index, message in enumerate(messages):
            role = message.get("role")
            content = text_of(message.get("content"))
            if role == "assistant":
                task = ""
                for call_id, name, arguments in _calls(message):
                    names[call_id] = name
                    arguments_of[call_id] = arguments
                    if name.startswith(HANDOFF_PREFIX):
                        view.transfers.append(index)
                        task = _task_of(arguments)
                if content.strip() and not message.get("tool_calls"):
                    view.texts.append(index)
                    if len(ids := set(_RUN_ID_TEXT.findall(content))) == 1:  # "That's run 9898…": one run named
                        view.text_runs[index] = list(ids)
            elif role in ("user", "human"):
                if not task or content.strip() != task:
                    view.users.append(index)  # a task handed down right after a transfer is not a user turn
                task = ""
            elif role == "tool":
                name = message.get("name") or names.get(str(message.get("tool_call_id") or ""), "")
                if isinstance(name, str) and name and not name.startswith(TRANSFER_PREFIX):
                    view.outcomes[index] = outcome = outcome_of(name, content)
                    if outcome.status == "ok":
                        view.arguments[index] = (name, _json_object(arguments_of.get(str(message.get("tool_call_id")))))
                    if name == "train_model" and outcome.status == "ok":
                        view.trainings[index] = _train_arguments(
                            arguments_of.get(str(message.get("tool_call_id"))), outcome
                        )
                    if name == "get_run" and outcome.status == "ok" and (family := _one_run_family(outcome)):
                        view.trainings[index] = {"model": family}  # "why did it fail? … rerun it with batch size 2"
                    if name in REVIEW_TOOLS and outcome.status == "ok":
                        view.reviews[index] = _review_folders(
                            name, arguments_of.get(str(message.get("tool_call_id"))), outcome
                        )
        return view

    @property
    def latest_user(self) -> int | None:
        """Index of the latest real user message (handed-down worker tasks excluded)."""
        return self.users[-1] if self.users else None

    def outcomes_between(self, start: int, end: int | None = None) -> list[ToolOutcome]:
        """Domain tool answers with start < index < end."""
        stop = len(self.messages) if end is None else end
        return [o for i, o in sorted(self.outcomes.items()) if start < i < stop]

    def run_ids_before(self, index: int) -> list[str]:
        """Run ids named by successful tool answers (and by the assistant's own answers: "That's run 9898…")
        before `index`, oldest first."""
        named: list[tuple[int, str]] = [
            (position, run_id) for position, ids in self.text_runs.items() for run_id in ids
        ]
        for position, outcome in self.outcomes.items():
            run_id = run_id_of(outcome.data) if outcome.status == "ok" else None
            if run_id:
                named.append((position, run_id))
        ids: list[str] = []
        for position, run_id in sorted(named, key=lambda item: item[0]):
            if position < index and (not ids or ids[-1] != run_id):
                ids.append(run_id)
        return ids

    def history_before(self, index: int) -> History:
        """What earlier turns tell a new request: run ids (oldest first) and the latest training's arguments."""
        trainings = [args for position, args in sorted(self.trainings.items()) if position < index]
        tools = [outcome.name for position, outcome in sorted(self.outcomes.items()) if position < index]
        reviews = [folders for position, folders in sorted(self.reviews.items()) if position < index]
        made = [version for _, version in reviews if version]
        earlier = [outcome for position, outcome in sorted(self.outcomes.items()) if position < index]
        group = _latest_group(earlier)
        calls = {name: args for position, (name, args) in sorted(self.arguments.items()) if position < index}
        return History(
            self.run_ids_before(index), trainings[-1] if trainings else None, tools[-1] if tools else None,
            review_dataset=reviews[-1][0] if reviews else None, reviewed_dataset=made[-1] if made else None,
            group=group, run_labels=run_labels_of(earlier),
            dataset=_latest_dataset(earlier), alpha=_latest_alpha(earlier, calls),
            last_args=calls, search_id=_latest_search(earlier),
        )  # fmt: skip

    def worker_note(self, start: int) -> str | None:
        """The text a worker handed back after the latest transfer since `start` (its question, if it asked)."""
        transfer = self.last_transfer_after(start)
        notes = [i for i in self.texts if transfer is not None and i > transfer]
        return self.user_text(notes[-1]) if notes else None

    def last_transfer_after(self, index: int) -> int | None:
        """The latest transfer call after `index`, if any."""
        later = [i for i in self.transfers if i > index]
        return later[-1] if later else None

    def user_text(self, index: int) -> str:
        return text_of(self.messages[index].get("content"))

    def _answered_question(self, earlier: int, later: int) -> bool:
        """The assistant replied to user turn `earlier` with text only (no tools) before turn `later`."""
        no_tools = not self.outcomes_between(earlier, later) and not any(earlier < i < later for i in self.transfers)
        return no_tools and any(earlier < i < later for i in self.texts)

    def effective_request(self) -> tuple[str, int]:
        """The request to plan now and the index of the user turn it starts from.

        When the planner's last reply was a clarifying question, the user's answer is inserted into the
        original request ("train a model for 5 epochs" + "segresnet"), unless the answer is a new request.
        """
        latest = len(self.users) - 1
        first = latest
        while first > 0 and latest - first < _MAX_CHAIN:
            if not self._answered_question(self.users[first - 1], self.users[first]):
                break
            first -= 1
        anchor = self.users[first]
        history = self.history_before(anchor)
        request = self.user_text(anchor)
        for turn in self.users[first + 1 : latest + 1]:
            previous = build_plan(request, history)
            answer = self.user_text(turn)
            request = merge_answer(request, previous, answer, history) if previous.text_kind == "clarify" else answer
        return request, anchor


def _row_run(row: Any) -> str:
    """The run id of a table row: ``{"run": {"run_id": …}}`` as our tools write it, or ``{"run_id": …}``."""
    if not isinstance(row, dict):
        return ""
    nested = row.get("run")
    value = nested.get("run_id") if isinstance(nested, dict) else None
    value = value if isinstance(value, str) else row.get("run_id")
    return value if isinstance(value, str) else ""


_LABEL_FIELDS: Final = (
    "model_family",
    "model",
    "run_name",
    "error",
    "error_type",
    "loss",
    "status",
    "message",
    "group",
)


def _label_text(row: dict[str, Any], extra: str = "") -> str:
    """What a result showed of one run, lowercased: family, name, error, loss, status ("the OOM one")."""
    run = row.get("run")
    nested: dict[str, Any] = run if isinstance(run, dict) else {}
    values = [source.get(key) for source in (row, nested) for key in _LABEL_FIELDS]
    return " ".join([extra, *(value for value in values if isinstance(value, str))]).lower()


def run_labels_of(outcomes: list[ToolOutcome]) -> dict[str, str]:
    """Each run an earlier answer showed → what it showed of it (a later answer adds to it)."""
    labels: dict[str, str] = {}
    for outcome in outcomes:
        data = outcome.data if outcome.status == "ok" and isinstance(outcome.data, dict) else {}
        rows: list[tuple[Any, str]] = [(data, "")]
        for key in ("runs", "rows"):
            if isinstance(data.get(key), list):
                rows += [(row, "") for row in data[key]]
        for group in data.get("groups") or []:
            if isinstance(group, dict) and isinstance(group.get("runs"), list):
                rows += [(row, str(group.get("error_type") or "")) for row in group["runs"]]
        for row, extra in rows:
            if isinstance(row, dict) and (run := _row_run(row)):
                labels[run] = f"{labels.get(run, '')} {_label_text(row, extra)}".strip()
    return labels


def _latest_group(outcomes: list[ToolOutcome]) -> list[str]:
    """The run ids of the latest successful answer about several runs (a comparison, a leaderboard's rows, curves
    of several runs, a failure summary's runs), in its order."""
    for outcome in reversed(outcomes):
        data = outcome.data if outcome.status == "ok" and isinstance(outcome.data, dict) else {}
        runs = data.get("runs")
        ids = [run for run in map(_row_run, runs) if run] if isinstance(runs, list) else []
        rows = data.get("rows")
        if not ids and isinstance(rows, list):
            ids = [run for run in map(_row_run, rows) if run]
        columns = data.get("columns")
        if not ids and isinstance(rows, list) and isinstance(columns, list) and "run_id" in columns:
            at = columns.index("run_id")  # query_runs: rows are lists under named columns
            ids = [row[at] for row in rows if isinstance(row, list) and len(row) > at and isinstance(row[at], str)]
        curves = data.get("curves")
        if not ids and isinstance(curves, dict):
            ids = [key for key in curves if isinstance(key, str) and len(key) == 32]
        groups = data.get("groups")
        if not ids and isinstance(groups, list):  # a failure summary: its failed runs, group by group
            failed = [r for g in groups if isinstance(g, dict) and isinstance(g.get("runs"), list) for r in g["runs"]]
            ids = [run for run in map(_row_run, failed) if run]
        if len(ids) >= 2:
            return ids
        if run_id_of(data):
            return []  # a later answer about one run ends the group
    return []


def _json_object(raw: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or "{}")
    except (json.JSONDecodeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _latest_alpha(outcomes: list[ToolOutcome], calls: dict[str, dict[str, Any]]) -> float | None:
    """The latest conformal alpha or prediction risk (its answer's value, else the call's)."""
    for outcome in reversed(outcomes):
        if outcome.name in ("conformal_calibrate", "predict_volume") and outcome.status == "ok":
            data = outcome.data if isinstance(outcome.data, dict) else {}
            value = data.get("alpha", data.get("risk_fnr"))
            if not isinstance(value, float):
                args = calls.get(outcome.name, {})
                value = args.get("alpha", args.get("risk_fnr"))
            if isinstance(value, float):
                return value
    return None


def _latest_search(outcomes: list[ToolOutcome]) -> str | None:
    """The search the latest start_search / search_status answer was about ("how is it going?" asks about it)."""
    for outcome in reversed(outcomes):
        if outcome.name in ("start_search", "search_status") and outcome.status == "ok":
            found = outcome.data.get("search_id") if isinstance(outcome.data, dict) else None
            return found if isinstance(found, str) and found else None
    return None


def _latest_dataset(outcomes: list[ToolOutcome]) -> str | None:
    """The folder the latest successful synthesize_data / dataset_info answer was about (a drift check's: the new
    dataset)."""
    for outcome in reversed(outcomes):
        data = outcome.data if isinstance(outcome.data, dict) else {}
        if outcome.name in ("synthesize_data", "dataset_info", "check_drift") and outcome.status == "ok":
            path = data.get("current") if outcome.name == "check_drift" else data.get("path")
            return path if isinstance(path, str) and path else None
    return None


def _train_arguments(raw: str | None, outcome: ToolOutcome) -> dict[str, Any]:
    """A finished training's arguments ("train it again" repeats them), its model family from the result."""
    try:
        parsed = json.loads(raw or "{}")
    except (json.JSONDecodeError, ValueError):
        parsed = {}
    args = dict(parsed) if isinstance(parsed, dict) else {}
    model = outcome.data.get("model") if isinstance(outcome.data, dict) else None
    if isinstance(model, str):
        args["model"] = model
    args.pop("register_as", None)
    return args


def _one_run_family(outcome: ToolOutcome) -> str | None:
    """The model family of the one run a get_run answer shows (a rerun of it trains that family)."""
    runs = outcome.data.get("runs") if isinstance(outcome.data, dict) else None
    if not isinstance(runs, list) or len(runs) != 1 or not isinstance(runs[0], dict):
        return None
    family = runs[0].get("model_family")
    return family if isinstance(family, str) and family else None


def _review_folders(name: str, raw: str | None, outcome: ToolOutcome) -> tuple[str | None, str | None]:
    """(the folder a review-loop call worked on, the new version import_reviews made): from its result, else its
    arguments (None: the tool's default dataset)."""
    try:
        parsed = json.loads(raw or "{}")
    except (json.JSONDecodeError, ValueError):
        parsed = {}
    data = outcome.data if isinstance(outcome.data, dict) else {}
    given = parsed.get("dataset") if isinstance(parsed, dict) else None
    folder = data.get("parent_dir") if name == "import_reviews" else data.get("dataset_dir")
    folder = folder if isinstance(folder, str) and folder else given if isinstance(given, str) and given else None
    version = data.get("dataset_dir") if name == "import_reviews" else None
    return folder, version if isinstance(version, str) and version else None


def _task_of(arguments: str) -> str:
    try:
        data = json.loads(arguments)
    except (json.JSONDecodeError, ValueError):
        return ""
    return str(data.get("task", "")).strip() if isinstance(data, dict) else ""


def merge_answer(request: str, question: Plan, answer: str, history: History) -> str:
    """The request with the user's answer filled in, or the answer alone when it is a new request."""
    alone = build_plan(answer, history)
    if not alone.is_text and _ANSWER_VERB.search(answer):
        return answer
    base = normalize(request)
    if question.replace is not None:  # the question named a written value: the answer takes its place
        start, end = question.replace
        numbers = _ANSWER_NUMBER.findall(answer)
        value = numbers[0] if question.replace_number and len(numbers) == 1 else answer.strip()
        value = "" if _DROP.match(answer) else value
        merged = normalize(f"{base[:start]} {value} {base[end:]}")
        return merged if not build_plan(merged, history).is_text or alone.is_text else answer
    at = question.insert_at if question.insert_at is not None else len(base)
    merged = f"{base[:at]} {question.template.format(answer.strip())}{base[at:]}"
    if not build_plan(merged, history).is_text:
        return merged
    if not alone.is_text or alone.text_kind in ("help", "cannot"):
        return answer
    return merged
