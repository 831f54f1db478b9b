"""Governance: dataset versions (DVC), lineage (OpenLineage), the audit trail, cards and drift checks."""
