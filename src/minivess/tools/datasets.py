"""Dataset references the model may use: a folder, or a name under the data dir or HOME/datasets."""

from __future__ import annotations

from pathlib import Path

from minivess.errors import DataError, ToolInputError
from minivess.tools.base import ToolContext


def dataset_folder(ref: str, ctx: ToolContext) -> Path:
    """The folder ``ref`` names: a path as written, else a dataset of that name (what `synthesize_data` made).

    Raises:
        ToolInputError: neither exists (the message lists where it looked).
    """
    from minivess.pipelines.governance.data_card import resolve_dataset

    try:
        return resolve_dataset(ctx.settings, ref)
    except DataError as exc:
        raise ToolInputError(str(exc)) from exc
