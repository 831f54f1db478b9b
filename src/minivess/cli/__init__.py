"""The `minivess` command line (typer): one module per command group."""
