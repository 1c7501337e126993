"""Question-shaped sections: when a visitor asks nearly what a heading asks, that section's opening answers.

The headings' vectors are stored with the build (fixed.npz), so matching costs one matrix-vector product
with the question's vector, which the ask pipeline has already computed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kb.records import Chunk


@dataclass(frozen=True)
class FaqMatch:
    """The question heading closest to a visitor's question, and the chunk that opens its section."""

    chunk: Chunk
    question: str
    similarity: float


class FaqHeadings:
    """The corpus's question headings (see ingest.chunking.question_openings) with their vectors."""

    def __init__(self, openings: list[tuple[Chunk, str]], vectors: np.ndarray):
        self.openings = openings
        self.vectors = np.asarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.openings)

    def closest(self, query_vec: np.ndarray, allowed: Callable[[Chunk], bool] | None = None) -> FaqMatch | None:
        """The heading most similar to the question among the allowed sections (None when there is none)."""
        if not self.openings:
            return None
        sims = self.vectors @ np.asarray(query_vec, dtype=np.float32)
        for i in np.argsort(-sims, kind="stable"):
            chunk, question = self.openings[int(i)]
            if allowed is None or allowed(chunk):
                return FaqMatch(chunk, question, float(sims[i]))
        return None


def faq_answer(
    headings: FaqHeadings, query_vec: np.ndarray, threshold: float, allowed: Callable[[Chunk], bool] | None = None
) -> FaqMatch | None:
    """The section to answer from when the question matches its heading closely enough (calibrated), else None."""
    match = headings.closest(query_vec, allowed)
    return match if match is not None and match.similarity >= threshold else None


# "How do I get over a breakup? We were together five years and ...": a question of 3 to 40 words, then more text.
_OPENING_QUESTION = re.compile(r"^\s*([^.!?\n]*\w[^.!?\n]*\?)\s*(?=\S)")


def opening_question(text: str) -> str | None:
    """The question a longer message opens with, when it opens with one and goes on (else None)."""
    match = _OPENING_QUESTION.match(text)
    if match is None or not 3 <= len(match.group(1).split()) <= 40:
        return None
    rest = text[match.end() :]
    return match.group(1).strip() if len(rest.split()) >= 3 else None
