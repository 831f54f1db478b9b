"""`python -m minivess` runs the CLI."""

from __future__ import annotations

from minivess.cli.app import main

if __name__ == "__main__":
    main()
