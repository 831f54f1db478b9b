"""`minivess ask | chat | approve | reject | threads`: talk to the experiment agent.

Exit codes of `ask`, `approve` and `reject`: 0 done, 1 a step failed, was refused or hit a budget, 2 error,
3 waiting for an approval (resume with `minivess approve THREAD`), 130 stopped by Ctrl-C (one line says what).
"""

from __future__ import annotations

import json
from typing import Any, Final

import typer

from minivess.cli import render
from minivess.cli.context import get_settings
from minivess.cli.render_agent import TurnPrinter, approval_panel, call_line

AWAITING_APPROVAL_EXIT = 3
STEP_FAILED_EXIT = 1
INTERRUPTED_EXIT = 130

CHAT_HELP = """\
Type a request, e.g. *train a segresnet for 2 epochs, then show the leaderboard by clDice*.

| command | does |
|---|---|
| `/approve [comment]` (or *yes*) | approve the pending step |
| `/reject [reason]` (or *no*) | reject it (the agent is told why) |
| `/good [comment]`, `/bad [comment]` | score the last answer (stored with its trace) |
| `/threads` | list saved threads |
| `/resume ID` | switch to a saved thread |
| `/new` | start a new thread |
| `/help` | this help |
| `/quit` | leave (the thread is saved) |
"""


def _session(thread: str | None) -> Any:
    from minivess.graphs.session import ChatSession

    return ChatSession(get_settings(), thread_id=thread)


def _show(outcome: Any) -> None:
    if outcome.status == "awaiting_approval":
        render.console.print(approval_panel(outcome.thread_id, outcome.questions))
    elif outcome.status == "dry_run":
        for call in outcome.planned_calls:
            render.console.print(call_line(call["name"], call["arguments"]))
    if outcome.answer:
        render.console.print(render.markdown(outcome.answer))
    usage = outcome.usage
    if usage:
        tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        render.console.print(
            f"[dim]thread {outcome.thread_id} · {usage.get('llm_calls', 0)} LLM calls · {tokens} tokens · "
            f"${usage.get('cost_usd', 0.0):.4f}[/]"
        )


def ask(
    request: str = typer.Argument(..., help="What you want, in plain words."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Approve every step that would ask."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON (for scripts)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the first tool calls as JSON; run nothing."),
    thread: str | None = typer.Option(None, "--thread", help="Continue this thread (default: a new one)."),
) -> None:
    """Send one request to the agent: plan → (approve) → run → report."""
    session = _dry_run_session(thread) if dry_run else _session(thread)
    printer = None if (as_json or dry_run) else TurnPrinter()
    outcome = _interruptible(lambda: session.send(request, auto_approve=yes, dry_run=dry_run, on_event=printer))
    if dry_run:
        typer.echo(json.dumps(outcome.planned_calls if outcome.planned_calls else {"answer": outcome.answer}, indent=2))
        return
    _finish(outcome, as_json)


def _interruptible(turn: Any) -> Any:
    """Run one turn; Ctrl-C (already recorded in the thread and the trace) becomes one line and exit 130."""
    from minivess.graphs.session import TurnInterrupted

    try:
        return turn()
    except TurnInterrupted as exc:
        render.err_console.print(f"[yellow]{exc}")
        raise typer.Exit(INTERRUPTED_EXIT) from None


def _finish(outcome: Any, as_json: bool) -> None:
    """Print the outcome; a failed, refused or stopped step exits 1, a pending approval 3."""
    if as_json:
        typer.echo(json.dumps(outcome.as_json(), indent=2, default=str))
    else:
        _show(outcome)
    if outcome.status == "awaiting_approval":
        raise typer.Exit(AWAITING_APPROVAL_EXIT)
    if outcome.status in ("failed", "stopped"):
        raise typer.Exit(STEP_FAILED_EXIT)


def _dry_run_session(thread: str | None) -> Any:
    """A session whose checkpoints stay in memory: a dry run plans, leaves no thread behind and changes none."""
    from langgraph.checkpoint.memory import InMemorySaver

    from minivess.graphs.chat import build_chat_graph
    from minivess.graphs.session import ChatSession

    settings = get_settings()
    graph = build_chat_graph(settings, InMemorySaver())
    session = ChatSession(settings, thread_id=thread, graph=graph)
    if thread:  # plan on top of the saved thread's history, without writing to it
        stored = _session(thread)
        saved = stored.graph.get_state(stored.config).values
        if saved:
            graph.update_state(session.config, saved, as_node="supervisor")
    return session


def _who() -> str:
    """Who answers an approval: MINIVESS_USER, else the OS user (the audit trail's actor)."""
    import getpass

    if user := get_settings().user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def _decide(thread: str, approved: bool, comment: str, as_json: bool) -> None:
    session = _session(thread)
    printer = None if as_json else TurnPrinter()
    outcome = _interruptible(lambda: session.decide(approved, by=_who(), comment=comment, on_event=printer))
    _finish(outcome, as_json)


def approve(
    thread: str = typer.Argument(..., help="Thread id waiting for approval."),
    comment: str = typer.Option("", "--comment", help="Why (kept with the decision)."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Approve the step a thread is waiting on, and let it run."""
    _decide(thread, True, comment, as_json)


def reject(
    thread: str = typer.Argument(..., help="Thread id waiting for approval."),
    reason: str = typer.Option("", "--reason", help="Told to the agent."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Reject the step a thread is waiting on; the agent is told why and does not run it."""
    _decide(thread, False, reason, as_json)


def threads() -> None:
    """List saved chat threads (most recent first) and which ones wait for an approval."""
    from minivess.graphs.session import ChatSession, list_threads

    settings = get_settings()
    graph = ChatSession(settings).graph  # one compiled graph and checkpointer for every thread
    rows = []
    for thread_id in list_threads(settings):
        session = ChatSession(settings, thread_id=thread_id, graph=graph)
        values = session.graph.get_state(session.config).values
        last_user = next((m["content"] for m in reversed(values.get("messages", [])) if m["role"] == "user"), "")
        rows.append((thread_id, "approval" if session.pending_questions() else "", last_user[:70]))
    render.console.print(render.records_table("threads", ("thread", "waiting", "last request"), rows))


def chat(thread: str | None = typer.Option(None, "--thread", help="Resume this thread.")) -> None:
    """Interactive chat with the agent (history kept per thread; /help for commands)."""
    session = _session(thread)
    render.console.print(f"[bold]minivess chat[/] · thread {session.thread_id} · /help for commands")
    _show_pending(session)  # a resumed thread waiting for a decision shows what a "yes" would approve
    while True:
        try:
            from rich.prompt import Prompt

            line = Prompt.ask("[bold green]you").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        session = _chat_line(session, line)
    render.console.print(
        f"[dim]thread {session.thread_id} saved; resume with `minivess chat --thread {session.thread_id}`[/]"
    )


def _feedback(session: Any, good: bool, comment: str) -> None:
    """Attach the user's verdict to the last turn's trace (local store; Langfuse too when configured)."""
    from minivess.observability import get_tracer

    if not session.last_trace_id:
        render.console.print("nothing to score yet: ask something first")
        return
    get_tracer(session.settings).score(session.last_trace_id, "user_feedback", good, comment=comment or None)
    render.console.print(f"[green]thanks — scored trace {session.last_trace_id[:8]} as {'good' if good else 'bad'}[/]")


_APPROVE: Final = frozenset({"y", "yes", "yes please", "approve", "approved", "ok", "okay", "go", "go ahead", "sure"})
_REJECT: Final = frozenset({"n", "no", "no thanks", "nope", "reject", "rejected", "cancel", "don't", "do not", "stop"})


def _approval_answer(line: str) -> tuple[bool, str] | None:
    """(approved, comment) for a plain answer to the approval on screen: "yes", "ok", "go ahead"; "no", "cancel",
    or "no, too long" (rejected, with that reason). None for anything else ("yes, but with 3 epochs" is a new
    request, not a yes)."""
    text = line.strip().replace("\u2019", "'")
    word = text.lower().rstrip(".!")
    if word in _APPROVE:
        return True, ""
    if word in _REJECT:
        return False, ""
    head, sep, reason = text.partition(",")
    if sep and head.strip().lower() in _REJECT and reason.strip():
        return False, reason.strip()
    return None


def _show_pending(session: Any) -> bool:
    """Print the approval the thread waits for, if any; True when it waits."""
    if questions := session.pending_questions():
        render.console.print(approval_panel(session.thread_id, questions))
        return True
    return False


def _chat_line(session: Any, line: str) -> Any:
    from minivess.errors import MinivessError
    from minivess.graphs.session import PendingApprovalError, TurnInterrupted, list_threads, new_thread_id

    command, _, rest = line.partition(" ")
    try:
        if command == "/help":
            from rich.markdown import Markdown

            render.console.print(Markdown(CHAT_HELP))
        elif command in ("/approve", "/reject"):
            _show(session.decide(command == "/approve", by=_who(), comment=rest, on_event=TurnPrinter()))
        elif command in ("/good", "/bad"):
            _feedback(session, command == "/good", rest)
        elif command == "/threads":
            render.console.print("\n".join(list_threads(session.settings)) or "no threads yet")
        elif command == "/resume":
            if rest.strip() not in list_threads(session.settings):
                render.console.print(f"no thread '{rest.strip()}'; /threads lists them (still on {session.thread_id})")
                return session
            session = _session(rest.strip())
            _show_pending(session)
        elif command == "/new":
            session = _session(new_thread_id())
        elif command.startswith("/"):
            render.console.print(f"unknown command {command}; /help lists them")
        elif questions := session.pending_questions():  # read once: a yes decides it, anything else waits
            if (answer := _approval_answer(line)) is not None:
                approved, comment = answer
                _show(session.decide(approved, by=_who(), comment=comment, on_event=TurnPrinter()))
            else:
                render.console.print(approval_panel(session.thread_id, questions))
                render.console.print(
                    "[yellow]This thread waits for your decision first: yes (/approve) or no (/reject). "
                    "Your request was not run; send it again after deciding."
                )
        else:
            _show(session.send(line, on_event=TurnPrinter()))
    except (MinivessError, PendingApprovalError) as exc:
        render.error_panel(type(exc).__name__, str(exc))
    except TurnInterrupted as exc:  # Ctrl-C during a turn stops the turn, not the chat
        render.console.print(f"[yellow]{exc}")
    render.console.print(f"[dim]thread {session.thread_id}[/]")
    return session
