"""Tests for the embedded planner."""
