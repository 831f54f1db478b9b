"""What the loop's steps report (plain pydantic, cheap to import: the agent tools return these)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class QueueReport(BaseModel):
    """Slices queued to the dataset version's Label Studio project."""

    project_id: int
    project_title: str
    dataset_version: str
    queued: int = Field(description="Tasks added now")
    already_queued: int = Field(description="Slices the project already had (skipped, not duplicated)")
    total_tasks: int
    url: str = Field(description="The project's task list in the Label Studio web UI")


class StatusReport(BaseModel):
    """Review progress of a dataset version's project."""

    project_id: int | None = Field(description="None: nothing was queued for this dataset version yet")
    project_title: str
    dataset_version: str
    tasks: int
    reviewed: int
    skipped: int = Field(description="Tasks the reviewer skipped (cancelled)")
    pending: int
    imported_versions: list[str] = Field(description="Reviewed dataset versions already written under the home")


class ImportReport(BaseModel):
    """The reviewed dataset version an import wrote (or found)."""

    dataset_dir: str | None = Field(description="The new dataset version's folder (None: nothing reviewed yet)")
    dataset_version: str | None
    parent_dir: str
    parent_version: str
    reviews_fetched: int
    reviews_applied: int
    voxels_changed: int
    already_imported: bool = Field(description="True: these reviews were imported before; nothing was written")
