"""A private, offline psychoeducation knowledge base with semantic search and cited answers."""

from __future__ import annotations

__version__ = "0.1.0"
