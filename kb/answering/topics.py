"""The topic vocabulary (corpus/topics.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kb.errors import InputError
from kb.ingest.data_files import read_yaml_list


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    kind: str  # concern | approach | practical
    description: str


def load_topics(path: Path) -> list[Topic]:
    """Read and check the vocabulary; an error names the file, the entry and the field."""
    _, rows = read_yaml_list(path, "topics", "topic vocabulary")
    topics, seen = [], set()
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise InputError(f"{path}: topic #{n} must be a mapping")
        for field in ("id", "label", "description"):
            if not isinstance(row.get(field), str) or not row[field].strip():
                raise InputError(f"{path}: topic #{n} ({row.get('id', '?')}): field '{field}' is missing")
        if row["id"] in seen:
            raise InputError(f"{path}: topic '{row['id']}' is listed twice")
        seen.add(row["id"])
        topics.append(Topic(row["id"], row["label"], str(row.get("kind", "concern")), row["description"]))
    return topics


def topic_text(topic: Topic) -> str:
    """What the model sees for a topic."""
    return f"{topic.label}: {topic.description}"


def infer_topics(
    query_vec, topic_vecs, topics: list[Topic], passage_topics: list[list[str]], limit: int = 3, min_share: float = 0.3
) -> list[tuple[str, float]]:
    """Topics of a question, best first: half from what it means, half from the passages it retrieved.

    passage_topics: the topic ids of each retrieved passage's article, in rank order.
    """
    import numpy as np

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
