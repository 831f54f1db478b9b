"""Errors of the analytics warehouse: the SQL guard's refusal is an AnalyticsError the model can fix."""

from __future__ import annotations

from collections.abc import Sequence

from minivess.errors import AnalyticsError


class SqlGuardError(AnalyticsError):
    """A SQL statement was refused or failed; short for people, with the columns for a model to fix it with."""

    def __init__(self, problem: str, schema_text: str = "", tables: Sequence[str] = ()) -> None:
        """Keep the bare problem apart from the schema a model needs to fix the query.

        Args:
            problem: What was wrong and what to do instead.
            schema_text: The allowed tables with their column names, one line per table (see ``for_model``).
            tables: The allowed table names (named in the message, with a hint to `minivess runs schema`).
        """
        self.problem = problem
        self.schema_text = schema_text
        self.tables = tuple(tables)
        hint = f"\nTables: {', '.join(self.tables)}. `minivess runs schema` shows their columns." if tables else ""
        super().__init__(problem + hint)

    def for_model(self) -> str:
        """The problem plus every allowed table with its columns (one line each): enough to rewrite the SQL."""
        if not self.schema_text:
            return self.problem
        return f"{self.problem}\nAllowed tables and columns:\n{self.schema_text}"
