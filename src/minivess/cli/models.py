"""`minivess models`: the model adapters and their options."""

from __future__ import annotations

import typer

from minivess.cli import render

app = typer.Typer(help="Model adapters (SegResNet, SwinUNETR, DynUNet) and their options.", no_args_is_help=True)


@app.command("list")
def list_models() -> None:
    """List adapters with their options, defaults and constraints."""
    from minivess.pipelines.models.registry import describe_options, list_adapters

    for adapter in list_adapters():
        rows = [(o["name"], o["type"], o["default"], o["description"]) for o in describe_options(adapter)]
        title = f"{adapter.name} — {adapter.description} (grad checkpointing: {adapter.supports_grad_checkpointing})"
        render.console.print(render.records_table(title, ("option", "type", "default", "description"), rows))
