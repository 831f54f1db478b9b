"""minivess: an agentic experiment orchestrator for 3D microvessel segmentation."""

from __future__ import annotations

__version__ = "0.1.0"
