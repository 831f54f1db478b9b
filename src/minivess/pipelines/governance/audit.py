"""The audit trail: an append-only, SHA-256 hash-chained JSONL log of every state-changing decision.

Shaped by IEC 62304's configuration management (5.1.9, 8: which software, environment, data and model a decision
concerned) and problem resolution (9: who decided what, when and why). Each entry carries the git commit, the
environment's lockfile hash, the MLflow run, the data version and the trace id. ``HOME/audit/head.json`` keeps the
last sequence number and hash, so deleting the newest entries (truncation) is detected as well as any edit,
deletion, reordering or insertion in the middle.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from minivess.errors import DataError
from minivess.fileio import exclusive, write_json_atomic
from minivess.pipelines.governance.soup import lockfile_sha256, soup_list
from minivess.settings import Settings

AuditKind = Literal[
    "promotion", "approval", "rejection", "dataset_version", "label_import", "gate_result", "search_decision", "release"
]
GENESIS = "0" * 64  # prev_hash of the first entry
LOG_FILE, HEAD_FILE = "audit.jsonl", "head.json"


class AuditEntry(BaseModel):
    """One decision. ``hash`` = SHA-256 of the canonical JSON of every other field (``prev_hash`` included)."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1)
    time: str = Field(description="ISO 8601, UTC")
    kind: AuditKind
    subject: str
    actor: str
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    git_commit: str | None = None
    lockfile_sha256: str | None = None
    mlflow_run_id: str | None = None
    data_version: str | None = None
    trace_id: str | None = None
    prev_hash: str
    hash: str


class AuditCheck(BaseModel):
    """What ``verify`` found: ok when every entry's hash and link hold and nothing was cut off the end."""

    ok: bool
    entries: int
    head: str | None = None
    problems: list[str] = Field(default_factory=list)


def audit_dir(settings: Settings) -> Path:
    return settings.home_dir / "audit"


def log_path(settings: Settings) -> Path:
    return audit_dir(settings) / LOG_FILE


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON (sorted keys, no spaces) of an entry without its ``hash``."""
    body = {key: value for key, value in fields.items() if key != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    settings: Settings,
    kind: AuditKind,
    subject: str,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    run_id: str | None = None,
    data_version: str | None = None,
    trace_id: str | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Append one decision, chained to the last entry, fsync'd before returning (under the log's lock).

    A failure raises: a decision that cannot be recorded must not pass silently.
    """
    path = log_path(settings)
    with exclusive(path):
        seq, prev_hash = _tail(path)
        fields: dict[str, Any] = {
            "seq": seq + 1,
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "kind": kind,
            "subject": subject,
            "actor": actor or settings.user or _os_user(),
            "reason": reason,
            "details": json.loads(json.dumps(details or {}, default=str)),
            "git_commit": source_commit(),
            "lockfile_sha256": lockfile_sha256(),
            "mlflow_run_id": run_id,
            "data_version": data_version,
            "trace_id": trace_id,
            "prev_hash": prev_hash,
        }
        entry = AuditEntry(**fields, hash=entry_hash(fields))
        line = json.dumps(entry.model_dump(), sort_keys=True, ensure_ascii=False) + "\n"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        write_json_atomic(path.with_name(HEAD_FILE), {"seq": entry.seq, "hash": entry.hash})
    return entry


def _tail(path: Path) -> tuple[int, str]:
    """The last complete entry's seq and hash (0 and the genesis value for an empty log)."""
    last = None
    for line in _lines(path):
        last = line
    if last is None:
        return 0, GENESIS
    try:
        data = json.loads(last)
        return int(data["seq"]), str(data["hash"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"the last line of the audit trail {path} is not a complete entry (a crash mid-write, or an edit); "
            "run `minivess audit verify` and restore the log from a release export before recording more."
        ) from exc


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def entries(settings: Settings) -> list[AuditEntry]:
    """Every entry that parses, oldest first (``verify`` says whether they can be trusted)."""
    found = []
    for line in _lines(log_path(settings)):
        try:
            found.append(AuditEntry.model_validate_json(line))
        except ValidationError:
            continue
    return found


def verify(settings: Settings) -> AuditCheck:
    """Recompute the chain: every edited, deleted, reordered, inserted, torn or cut-off entry is a problem."""
    path = log_path(settings)
    problems: list[str] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for number, line in enumerate(_lines(path), start=1):
        try:
            raw = json.loads(line)
            entry = AuditEntry.model_validate(raw)
        except (json.JSONDecodeError, ValidationError) as exc:
            problems.append(f"line {number}: not a valid entry ({str(exc).splitlines()[0]})")
            prev_hash, expected_seq = "?", expected_seq + 1
            continue
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"line {number}: seq {entry.seq} where {expected_seq} was expected (deleted or moved)")
        if entry_hash(raw) != entry.hash:
            problems.append(f"entry {entry.seq}: its content does not match its hash (edited)")
        if prev_hash != "?" and entry.prev_hash != prev_hash:
            problems.append(f"entry {entry.seq}: prev_hash does not match the entry before it (chain broken)")
        prev_hash, expected_seq = entry.hash, entry.seq + 1
    head = _read_head(path.with_name(HEAD_FILE))
    if head is None and count:
        problems.append(f"{HEAD_FILE} is missing or unreadable: truncation cannot be ruled out")
    elif head is not None and (head["seq"], head["hash"]) != (expected_seq - 1, prev_hash):
        problems.append(
            f"{HEAD_FILE} records entry {head['seq']} ({head['hash'][:12]}) but the log ends at entry "
            f"{expected_seq - 1}: entries were removed from the end or the log was replaced"
        )
    return AuditCheck(ok=not problems, entries=count, head=None if head is None else head["hash"], problems=problems)


def _read_head(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {"seq": int(data["seq"]), "hash": str(data["hash"])}
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def export_release(settings: Settings, dest: Path, champion: dict[str, Any] | None = None) -> Path:
    """Write a release record to ``dest``: the verified log, the check, the SOUP list, commit and lockfile hash.

    Raises:
        DataError: The chain does not verify (a broken trail is not released), or ``dest`` is not empty.
    """
    check = verify(settings)
    if not check.ok:
        raise DataError(f"the audit trail does not verify ({check.problems[0]}); fix it before a release export.")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DataError(f"{dest} exists and is not an empty folder; choose a new one.")
    dest.mkdir(parents=True, exist_ok=True)
    with exclusive(log_path(settings)):
        if log_path(settings).is_file():
            shutil.copy2(log_path(settings), dest / LOG_FILE)
        head = log_path(settings).with_name(HEAD_FILE)
        if head.is_file():
            shutil.copy2(head, dest / HEAD_FILE)
    soup = soup_list()
    write_json_atomic(dest / "soup.json", [item.model_dump() for item in soup])
    record = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": source_commit(),
        "lockfile_sha256": lockfile_sha256(),
        "audit": check.model_dump(),
        "champion": champion,
        "soup_packages": len(soup),
    }
    write_json_atomic(dest / "release.json", record)
    append(settings, "release", f"release export {dest.name}", details={"dest": str(dest), "entries": check.entries})
    return dest


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


@lru_cache(maxsize=1)
def source_commit() -> str | None:
    """The git commit of the minivess source checkout, or None for an installed package."""
    from minivess.pipelines.tracking.mlflow_run import git_commit

    root = Path(__file__).resolve().parents[4]
    return git_commit(root) if (root / ".git").exists() else None
