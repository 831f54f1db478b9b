"""Tests for minivess.agents."""
