"""Dataset versions with DVC: every dataset minivess makes or is given is content-addressed and pushed to a remote.

Layout under the home (all home-owned; a user's folder is only ever read):

- ``HOME/dvc/`` — a DVC repository (``dvc init --no-scm``); its default remote is ``settings.dvc_remote`` or
  ``HOME/dvc-remote``.
- ``HOME/dvc/data/<name>/`` — the working copy of dataset ``<name>`` (the latest recorded content), tracked by
  ``HOME/dvc/data/<name>.dvc``.
- ``HOME/dvc/versions/<name>/<version>.dvc`` — the ``.dvc`` file of every version, so an older one can be
  restored: copy it over ``data/<name>.dvc`` and run ``dvc checkout`` (or ``dvc pull``) in ``HOME/dvc``.
- ``HOME/dvc/versions.json`` — the history (a list of `DatasetVersion`), written atomically under a lock.

A version id is the first 12 hex characters of DVC's directory md5, so the same content is the same version.
DVC is imported only when a version is recorded (it is slow to import).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter

from minivess.errors import DataError, PipelineError
from minivess.fileio import exclusive, write_json_atomic
from minivess.pipelines.data.manifest import scan_dataset
from minivess.settings import Settings

if TYPE_CHECKING:
    from dvc.repo import Repo  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

Source = Literal["synth", "add", "label_import"]
REMOTE_NAME = "default"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class DatasetVersion(BaseModel):
    """One recorded version of a dataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    version: str  # first 12 hex of DVC's dir md5
    md5: str  # DVC's full dir md5 (with the ``.dir`` suffix)
    manifest_version: str  # DatasetManifest.version of the same content
    source: Source
    parent_version: str | None = None
    path: str  # the folder it was recorded from
    files: int
    bytes: int
    created_at: str


_HISTORY = TypeAdapter(list[DatasetVersion])


def dvc_root(settings: Settings) -> Path:
    return settings.home_dir / "dvc"


def _history_file(settings: Settings) -> Path:
    return dvc_root(settings) / "versions.json"


def remote_url(settings: Settings) -> str:
    return settings.dvc_remote or str(settings.home_dir / "dvc-remote")


def _read_history(settings: Settings) -> list[DatasetVersion]:
    path = _history_file(settings)
    if not path.is_file():
        return []
    return _HISTORY.validate_json(path.read_bytes())


def list_versions(settings: Settings, dataset: str | None = None) -> list[DatasetVersion]:
    """Every recorded version (oldest first), optionally of one dataset."""
    return [v for v in _read_history(settings) if dataset is None or v.dataset == dataset]


def version_for_manifest(settings: Settings, manifest_version: str) -> DatasetVersion | None:
    """The most recent recorded version whose content has this manifest version, if any."""
    matches = [v for v in _read_history(settings) if v.manifest_version == manifest_version]
    return matches[-1] if matches else None


def _open_repo(settings: Settings) -> Repo:
    """The home's DVC repository, created (with its default remote) on first use. Call under the lock."""
    from dvc.repo import Repo

    dvc_logger = logging.getLogger("dvc")  # DVC binds handlers to the stream of its first use; use ours
    for handler in list(dvc_logger.handlers):
        dvc_logger.removeHandler(handler)
    dvc_logger.propagate = True
    dvc_logger.setLevel(logging.WARNING)
    root = dvc_root(settings)
    if not (root / ".dvc").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(io.StringIO()):  # DVC prints "Initialized DVC repository."
            Repo.init(str(root), no_scm=True)
    repo = Repo(str(root))
    url = remote_url(settings)
    current = repo.config.get("remote", {}).get(REMOTE_NAME, {}).get("url")
    if current != url:
        if "://" not in url:
            Path(url).mkdir(parents=True, exist_ok=True)
        with repo.config.edit() as conf:
            conf["remote"][REMOTE_NAME] = {"url": url}
            conf["core"]["remote"] = REMOTE_NAME
        repo.close()
        repo = Repo(str(root))
    return repo


def _sync_copy(source: Path, target: Path) -> None:
    """Make ``target`` an exact copy of ``source`` (reads ``source`` only)."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(".*"))
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def _count(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def record_version(
    settings: Settings,
    dataset_dir: Path,
    source: Source,
    parent_version: str | None = None,
    *,
    name: str | None = None,
) -> DatasetVersion:
    """Put the content of ``dataset_dir`` into DVC (cache + remote) and the history; same content, same version.

    ``dataset_dir`` is only read: its content is copied into ``HOME/dvc/data/<name>`` (``name`` defaults to the
    folder's name), which DVC tracks. Two processes may record at once (one lock serialises them).

    Raises:
        DataError: the folder is missing, not a dataset, or the name is invalid.
        PipelineError: DVC failed (e.g. the remote cannot be reached).
    """
    folder = dataset_dir.expanduser().resolve()
    if not folder.is_dir():
        raise DataError(f"dataset folder {folder} does not exist; pass a folder with raw/ and seg/ subfolders.")
    name = name or folder.name
    if not _NAME_RE.match(name):
        raise DataError(f"dataset name '{name}' is not valid; use letters, digits, '.', '_' or '-'.")
    manifest = scan_dataset(folder)
    root = dvc_root(settings)
    with exclusive(_history_file(settings)):
        try:
            repo = _open_repo(settings)
            try:
                work = root / "data" / name
                work.parent.mkdir(parents=True, exist_ok=True)
                if folder != work:
                    _sync_copy(folder, work)
                repo.add(str(work))
                dvc_file = work.with_name(f"{name}.dvc")
                out = yaml.safe_load(dvc_file.read_text())["outs"][0]
                md5 = str(out["md5"])
                version = md5.removesuffix(".dir")[:12]
                history = _read_history(settings)
                for known in history:
                    if known.dataset == name and known.version == version:
                        return known
                keep = root / "versions" / name / f"{version}.dvc"
                keep.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(dvc_file, keep)
                repo.push(targets=[str(dvc_file)], remote=REMOTE_NAME)
            finally:
                repo.close()
        except (DataError, PipelineError):
            raise
        except Exception as exc:  # DVC raises its own DvcException tree
            raise PipelineError(f"DVC could not record dataset {name} from {folder}: {exc}") from exc
        files, size = _count(work)
        recorded = DatasetVersion(
            dataset=name,
            version=version,
            md5=md5,
            manifest_version=manifest.version,
            source=source,
            parent_version=parent_version,
            path=str(folder),
            files=files,
            bytes=size,
            created_at=datetime.now(UTC).isoformat(),
        )
        write_json_atomic(_history_file(settings), [v.model_dump() for v in [*history, recorded]])
    _audit(settings, recorded)
    return recorded


def _audit(settings: Settings, recorded: DatasetVersion) -> None:
    from minivess.pipelines.governance import audit

    details: dict[str, Any] = recorded.model_dump(include={"source", "parent_version", "md5", "manifest_version",
                                                           "files", "bytes", "path"})  # fmt: skip
    audit.append(
        settings,
        "dataset_version",
        subject=f"dataset {recorded.dataset} {recorded.version}",
        details=details,
        data_version=recorded.version,
    )


def record_quietly(
    settings: Settings, dataset_dir: Path, source: Source, parent_version: str | None = None
) -> DatasetVersion | None:
    """`record_version` for callers whose own work must not fail because versioning did (logs one warning)."""
    try:
        return record_version(settings, dataset_dir, source, parent_version)
    except Exception as exc:
        logger.warning("could not record a DVC version of %s: %s", dataset_dir, exc)
        return None


def versions_json(versions: list[DatasetVersion]) -> str:
    return json.dumps([v.model_dump() for v in versions], indent=2)
