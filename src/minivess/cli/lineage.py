"""`minivess lineage`, `minivess data versions` and `minivess data add`: dataset versions (DVC) and lineage."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from minivess.cli import render


def lineage(
    ref: str = typer.Argument(..., help="Registry alias (champion, challenger[:model]) or run id/prefix/last."),
    as_json: bool = typer.Option(False, "--json", help="Print the tree as JSON."),
) -> None:
    """Walk a model or run back to its dataset version, reviews and raw volumes."""
    from rich.markup import escape
    from rich.tree import Tree

    from minivess.cli.context import get_settings
    from minivess.pipelines.governance.lineage import LineageNode, walk

    node = walk(get_settings(), ref)
    if as_json:
        typer.echo(json.dumps(node.to_dict(), indent=2))
        return

    def line(item: LineageNode) -> str:
        """The label, led by its kind in bold unless the label already starts with it ("run …", "dataset …")."""
        if item.label.startswith(item.kind):
            return f"[bold]{item.kind}[/]{escape(item.label[len(item.kind) :])}"
        return f"[bold]{item.kind}[/] {escape(item.label)}"

    def grow(tree: Tree, child: LineageNode) -> None:
        branch = tree.add(line(child))
        for grandchild in child.children:
            grow(branch, grandchild)

    root = Tree(line(node))
    for child in node.children:
        grow(root, child)
    render.console.print(root)


def versions(
    dataset: str | None = typer.Argument(None, help="Only this dataset's versions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the recorded DVC versions of datasets (oldest first)."""
    from rich.table import Table

    from minivess.cli.context import get_settings
    from minivess.pipelines.governance.versions import list_versions, versions_json

    found = list_versions(get_settings(), dataset)
    if as_json:
        typer.echo(versions_json(found))
        return
    if not found:
        render.console.print("no dataset versions recorded yet (`minivess data add FOLDER` records one)")
        return
    table = Table("dataset", "version", "source", "parent", "manifest", "files", "bytes", "created")
    for column in table.columns[:5]:
        column.no_wrap = True
    for v in found:
        table.add_row(v.dataset, v.version, v.source, v.parent_version or "", v.manifest_version, str(v.files),
                      str(v.bytes), v.created_at[:19])  # fmt: skip
    render.console.print(table)


def add(
    folder: Path = typer.Argument(..., help="Dataset folder (raw/ + seg/); only read, never written."),
    name: str | None = typer.Option(None, "--name", help="Dataset name (default: the folder's name)."),
) -> None:
    """Record a dataset folder as a DVC version (copied into the home, pushed to the DVC remote)."""
    from minivess.cli.context import get_settings
    from minivess.pipelines.governance import lineage as ol
    from minivess.pipelines.governance.versions import record_version

    settings = get_settings()
    with ol.job_run(settings, "data_add") as job:
        v = record_version(settings, folder, "add", name=name)
        job.outputs(ol.dataset_name(v.dataset, v.version))
    render.console.print(f"[green]dataset {v.dataset} version {v.version}[/] ({v.files} files, {v.bytes} bytes)")
