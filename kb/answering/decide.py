"""Whether to answer from the library or abstain: one decision, made by `ask` and measured by `kb eval`."""

from __future__ import annotations

from kb.records import Decision, Hit, Query, Retrieval


def best_dense(hits: list[Hit]) -> float | None:
    """The best similarity in meaning among the passages; None when none has one (BM25-only hits)."""
    scores = [h.dense_score for h in hits if h.dense_score is not None]
    return max(scores) if scores else None


def is_relevant(hits: list[Hit], threshold: float) -> bool:
    """Whether the best passage is close enough in meaning to answer from (calibrated by `kb eval`)."""
    best = best_dense(hits)
    return bool(hits) and (-1.0 if best is None else best) >= threshold


def decide(query: Query, retrieval: Retrieval, below: float, below_other_language: float) -> Decision:
    """Answer, or abstain: a refused question never is answered, a crisis article always is, and otherwise
    the best passage must reach the bar (`below` in English, the more lenient `below_other_language` else).
    """
    threshold = below_other_language if query.french else below
    best = best_dense(retrieval.hits)
    if query.refusal is not None:
        return Decision(False, "refused", best, threshold)
    if retrieval.crisis_article:
        return Decision(True, "crisis-article", best, threshold)
    if not retrieval.hits:
        return Decision(False, "no-passages", best, threshold)
    if is_relevant(retrieval.hits, threshold):
        return Decision(True, "relevant", best, threshold)
    return Decision(False, "below-threshold", best, threshold)
