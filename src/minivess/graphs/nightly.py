"""The nightly graph: plan from history → check drift → search → report and decide → ask about the champion.

The drift check compares the search's dataset with the champion's training data (per-volume features, data
only) and puts its verdict in the search's notes, so a champion challenged on drifted data is flagged in the
report rather than silently compared.

Unattended (cron, a systemd timer). Crash-resume is the search's own (`minivess search resume`); the champion
step is the chat graph's approval flow, so the pending promotion shows in `minivess threads` and is answered
with `minivess approve` / `reject` like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from minivess.observability import get_tracer
from minivess.observability.search import TracedSearchObserver
from minivess.pipelines.search import engine, workflow
from minivess.pipelines.search import record as records
from minivess.pipelines.search.planning import SearchPlan
from minivess.pipelines.search.record import SearchRecord, SearchSpec
from minivess.settings import DEFAULT_SYNTHETIC, Settings


class NightlyState(TypedDict, total=False):
    spec: dict[str, Any]
    plan: dict[str, Any]
    search_id: str
    drift_notes: list[str]
    approval_thread: str | None


@dataclass
class NightlyOutcome:
    record: SearchRecord
    approval_thread: str | None


def build_nightly_graph(settings: Settings, observer: engine.SearchObserver) -> Any:
    """Five nodes, run in order; each traced as a span of the night's trace."""
    tracer = get_tracer(settings)
    traced = TracedSearchObserver(observer, tracer)

    def plan(state: NightlyState) -> NightlyState:
        spec = SearchSpec.model_validate(state["spec"])
        with tracer.observe("plan from history", as_type="agent", input={"families": list(spec.families)}) as obs:
            search_plan = workflow.plan(spec, settings)
            obs.update(output={"space": search_plan.space.describe(), "reasoning": search_plan.reasoning})
        return {"plan": search_plan.model_dump(mode="json")}

    def check_drift(state: NightlyState) -> NightlyState:
        spec = SearchSpec.model_validate(state["spec"])
        dataset = spec.dataset or settings.resolved_data_dir / DEFAULT_SYNTHETIC
        with tracer.observe("check drift", as_type="tool", input={"dataset": str(dataset)}) as obs:
            from minivess.pipelines.governance.drift import search_drift_notes

            notes = search_drift_notes(settings, dataset)
            obs.update(output={"notes": notes})
        return {"drift_notes": notes}

    def search(state: NightlyState) -> NightlyState:
        spec = SearchSpec.model_validate(state["spec"])
        search_plan = SearchPlan.model_validate(state["plan"])
        for line in search_plan.reasoning:
            traced.note(line)
        with tracer.observe("search", as_type="chain", input={"trials": spec.trials}) as obs:
            record = engine.create_search(spec, search_plan, settings)
            for note in state.get("drift_notes", []):
                record.notes.append(note)
                traced.note(note)
            records.save(settings, record)
            obs.update(metadata={"search_id": record.search_id, "mlflow_run_id": record.parent_run_id})
            engine.drive(record.search_id, settings, traced)
        return {"search_id": record.search_id}

    def report(state: NightlyState) -> NightlyState:
        with tracer.observe("report and decide", input={"search_id": state["search_id"]}) as obs:
            record = workflow.finish(records.load(settings, state["search_id"]), settings)
            obs.update(output=record.promotion)
        return {}

    def ask_champion(state: NightlyState) -> NightlyState:
        record = records.load(settings, state["search_id"])
        if record.promotion.get("outcome") != "challenger":
            return {"approval_thread": None}
        from minivess.graphs.session import ChatSession

        session = ChatSession(settings)
        outcome = session.send(f"make run {record.promotion['best_run_id']} the champion")
        thread = session.thread_id if outcome.status == "awaiting_approval" else None
        record.notes.append(
            f"champion promotion of {record.promotion['best_run_id'][:8]} waits for approval in thread {thread}"
            if thread
            else f"could not open the champion approval (chat status {outcome.status}: {outcome.answer})"
        )
        records.save(settings, record)
        workflow.write(record, settings)
        return {"approval_thread": thread}

    graph = StateGraph(NightlyState)
    nodes = (("plan", plan), ("check_drift", check_drift), ("search", search), ("report", report),
             ("ask_champion", ask_champion))  # fmt: skip
    for name, node in nodes:
        graph.add_node(name, node)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "check_drift")
    graph.add_edge("check_drift", "search")
    graph.add_edge("search", "report")
    graph.add_edge("report", "ask_champion")
    graph.add_edge("ask_champion", END)
    return graph.compile()


def run_nightly(spec: SearchSpec, settings: Settings, observer: engine.SearchObserver) -> NightlyOutcome:
    """One night: the whole graph inside one trace."""
    from minivess.cancel import cancel_on_interrupt

    graph = build_nightly_graph(settings, observer)
    trace = get_tracer(settings).trace("nightly", input=spec.model_dump(mode="json"), tags=["nightly"], as_type="agent")
    with trace, cancel_on_interrupt():
        state = graph.invoke({"spec": spec.model_dump(mode="json")})
    return NightlyOutcome(records.load(settings, state["search_id"]), state.get("approval_thread"))
