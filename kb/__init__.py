"""A private, offline psychoeducation knowledge base with semantic search and cited answers.

The pipeline runs one way, one subpackage a stage: ingest -> index -> models -> retrieval -> answering,
with safety and the therapist directory beside it, evaluation over all of it, and web and cli as front
ends. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

__version__ = "0.2.0"

# The public names load on first use (PEP 562), so a process that needs only part of the package (the app's
# server, which must start listening quickly) does not import all of it.
_EXPORTS = {
    "Settings": "kb.config",
    "load_settings": "kb.config",
    "IndexBusyError": "kb.errors",
    "IndexMismatchError": "kb.errors",
    "InputError": "kb.errors",
    "KBError": "kb.errors",
    "KnowledgeBase": "kb.knowledge_base",
    **dict.fromkeys(
        ("Answer", "Chunk", "Citation", "Crisis", "Document", "Failure", "Hit", "Resource", "TherapistMatch"),
        "kb.records",
    ),
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kb' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


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
