"""Crisis safety beside the pipeline: rules, a learned classifier, and resources from package data.

Nothing here needs the index, the embedding model or the therapist directory, so crisis help is shown
whatever else is broken.
"""

from __future__ import annotations

from kb.safety.data import (
    crisis_article_entries,
    crisis_articles,
    crisis_resources,
    crisis_sections,
    helping_someone_else,
    resources_for,
)
from kb.safety.detector import CrisisDetector, detect_crisis
from kb.safety.rules import normalize

__all__ = [
    "CrisisDetector",
    "crisis_article_entries",
    "crisis_articles",
    "crisis_resources",
    "crisis_sections",
    "detect_crisis",
    "helping_someone_else",
    "normalize",
    "resources_for",
]
