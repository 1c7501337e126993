"""Which topics of the vocabulary a question is about: what it means and what it retrieved."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kb.ingest.topics import Topic


def infer_topics(
    query_vec,
    topic_vecs,
    topics: Sequence[Topic],
    passage_topics: list[list[str]],
    limit: int = 3,
    min_share: float = 0.3,
) -> list[tuple[str, float]]:
    """Topics of a question, best first: half from what it means, half from the passages it retrieved.

    passage_topics: the topic ids of each retrieved passage's article, in rank order.
    """
    scores = {t.id: 0.0 for t in topics}
    if len(topics) and topic_vecs is not None and len(topic_vecs):
        sims = topic_vecs @ query_vec
        weights = np.exp((sims - sims.max()) / 0.05)
        weights /= weights.sum()
        for topic, weight in zip(topics, weights, strict=False):
            scores[topic.id] += 0.5 * float(weight)
    votes: dict[str, float] = {}
    for rank, ids in enumerate(passage_topics, 1):
        for position, tid in enumerate(ids):
            votes[tid] = votes.get(tid, 0.0) + (1.0 / rank) * (1.0 if position == 0 else 0.6)
    total = sum(votes.values())
    for tid, vote in votes.items():
        if tid in scores and total:
            scores[tid] += 0.5 * vote / total
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    best = ranked[0][1] if ranked else 0.0
    return [(tid, s) for tid, s in ranked[:limit] if s > 0 and s >= min_share * best]
