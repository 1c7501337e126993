"""Retrieval and classification metrics (pure functions over ids and labels)."""

from __future__ import annotations

import math


def dedupe(ids: list[str]) -> list[str]:
    """Document ranking from a chunk ranking: each document at its best position."""
    return list(dict.fromkeys(ids))


def recall_at(ranked: list[str], relevant: list[str], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def mrr_at(ranked: list[str], relevant: list[str], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document in the top k."""
    for rank, doc in enumerate(ranked[:k], 1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: list[str], relevant: list[str], k: int = 10, graded: bool = True) -> float:
    """nDCG@k; with graded=True the first relevant id matters most (gain n, n-1, ... 1)."""
    if not relevant:
        return 0.0
    gains = {doc: (len(relevant) - i if graded else 1) for i, doc in enumerate(relevant)}
    dcg = sum(gains.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], 1))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, 1))
    return dcg / idcg if idcg else 0.0


def retrieval_summary(runs: list[tuple[list[str], list[str]]], graded: bool = True) -> dict[str, float]:
    """Mean Recall@1/5/10, MRR@10 and nDCG@10 over (ranked, relevant) pairs."""
    n = len(runs) or 1
    return {
        "recall@1": sum(recall_at(r, rel, 1) for r, rel in runs) / n,
        "recall@5": sum(recall_at(r, rel, 5) for r, rel in runs) / n,
        "recall@10": sum(recall_at(r, rel, 10) for r, rel in runs) / n,
        "mrr@10": sum(mrr_at(r, rel) for r, rel in runs) / n,
        "ndcg@10": sum(ndcg_at(r, rel, 10, graded) for r, rel in runs) / n,
        "queries": len(runs),
    }


def precision_recall(predicted: list[bool], actual: list[bool]) -> dict[str, float]:
    """Precision and recall of the positive class."""
    tp = sum(p and a for p, a in zip(predicted, actual, strict=False))
    fp = sum(p and not a for p, a in zip(predicted, actual, strict=False))
    fn = sum(a and not p for p, a in zip(predicted, actual, strict=False))
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }
