"""Whether to answer from the library or abstain: one decision, made by `ask` and measured by `kb eval`."""

from __future__ import annotations

from kb.answering.readable import themes_unraised
from kb.records import Decision, Hit, Query, Retrieval


def best_dense(hits: list[Hit]) -> float | None:
    """The best similarity in meaning among the passages; None when none has one (BM25-only hits)."""
    scores = [h.dense_score for h in hits if h.dense_score is not None]
    return max(scores) if scores else None


def is_relevant(hits: list[Hit], threshold: float) -> bool:
    """Whether the best passage is close enough in meaning to answer from (calibrated by `kb eval`)."""
    best = best_dense(hits)
    return bool(hits) and (-1.0 if best is None else best) >= threshold


def decide(
    query: Query,
    retrieval: Retrieval,
    below: float,
    below_other_language: float,
    topic_similarity: float | None = None,
    topic_below: float = -1.0,
) -> Decision:
    """Answer, or abstain: a refused question never is answered, a crisis article always is, and otherwise
    the best passage that may be quoted to it must reach the bar (`below` in English, the more lenient
    `below_other_language` else).

    topic_similarity: the question's best cosine with a topic description; under `topic_below` it is about
    none of our topics (fees in Alberta, a dying alternator), however many of its words the corpus shares.
    """
    threshold = below_other_language if query.french else below
    best = best_dense(retrieval.hits)
    if query.refusal is not None:
        return Decision(False, "refused", best, threshold)
    if retrieval.crisis_article:
        return Decision(True, "crisis-article", best, threshold)
    if not retrieval.hits:
        return Decision(False, "no-passages", best, threshold)
    if retrieval.faq:  # a heading asks nearly this very question
        return Decision(True, "faq", best, threshold)
    if topic_similarity is not None and topic_similarity < topic_below:
        return Decision(False, "off-topic", best, threshold)
    # A passage never quoted to this question (a theme or situation it does not raise) does not make it answerable:
    # "how do I kill a process in Linux" is close in meaning to a section on a child who talks of dying.
    quotable = [h for h in retrieval.hits if not themes_unraised(h.title, h.chunk.section, query.text)]
    if is_relevant(quotable, threshold):
        return Decision(True, "relevant", best, threshold)
    return Decision(False, "below-threshold", best, threshold)
