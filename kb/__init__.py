"""A private, offline psychoeducation knowledge base with semantic search and cited answers.

The pipeline runs one way, one subpackage a stage: ingest -> index -> models -> retrieval -> answering,
with safety and the therapist directory beside it, evaluation over all of it, and web and cli as front
ends. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

__version__ = "0.2.0"

from kb.config import Settings, load_settings  # noqa: E402
from kb.errors import IndexBusyError, IndexMismatchError, InputError, KBError  # noqa: E402
from kb.knowledge_base import KnowledgeBase  # noqa: E402
from kb.records import (  # noqa: E402
    Answer,
    Chunk,
    Citation,
    Crisis,
    Document,
    Failure,
    Hit,
    Resource,
    TherapistMatch,
)

__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "Crisis",
    "Document",
    "Failure",
    "Hit",
    "IndexBusyError",
    "IndexMismatchError",
    "InputError",
    "KBError",
    "KnowledgeBase",
    "Resource",
    "Settings",
    "TherapistMatch",
    "__version__",
    "load_settings",
]
