"""Errors of the analytics warehouse: the SQL guard's refusal is an AnalyticsError the model can fix."""

from __future__ import annotations

from minivess.errors import AnalyticsError


class SqlGuardError(AnalyticsError):
    """A SQL statement was refused or failed; the message carries the warehouse schema to fix it with."""

    def __init__(self, problem: str, schema_text: str = "") -> None:
        """Keep the bare problem apart from the schema appended for the reader.

        Args:
            problem: What was wrong and what to do instead.
            schema_text: The allowed tables and their columns (appended to the message).
        """
        self.problem = problem
        self.schema_text = schema_text
        message = problem if not schema_text else f"{problem}\n\nAllowed tables and columns:\n{schema_text}"
        super().__init__(message)
