"""Dense (FAISS) + BM25 -> fused, filtered, diverse hits."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote

import numpy as np

from kb.config import Settings
from kb.models.embedders import Embedder
from kb.errors import InputError
from kb.records import Hit
from kb.index.store import Index

MODES = ("hybrid", "dense", "bm25")


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    def score(self, query: str, passages: list[str]) -> list[float]: ...


def article_url(doc_id: str, section: str = "") -> str:
    """The in-app link to an article, at a section when given."""
    url = f"/library?doc={quote(doc_id, safe='')}"
    return url + f"&section={quote(section, safe='')}" if section else url


def fuse_rrf(rankings: list[np.ndarray], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion of several rankings (arrays of chunk positions, best first)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, pos in enumerate(ranking):
            fused[int(pos)] = fused.get(int(pos), 0.0) + 1.0 / (k + rank + 1)
    return fused


def fuse_convex(dense: np.ndarray, bm25: np.ndarray, weight: float) -> np.ndarray:
    """Weighted sum of cosine similarity and BM25 scaled by its best score for this query."""
    top = float(bm25.max()) if bm25.size else 0.0
    lexical = bm25 / top if top > 0 else np.zeros_like(bm25)
    return weight * dense + (1.0 - weight) * lexical


class Searcher:
    """Search one loaded index with one embedder under one settings object."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings, reranker: Reranker | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self._doc_topics = {d.id: set(d.topics) for d in index.documents.values()}
        self._doc_audience = {d.id: d.audience for d in index.documents.values()}

    def mask(self, topics: list[str] | None = None, audience: str | None = None,
             documents: list[str] | None = None) -> np.ndarray:
        """Which chunks pass the topic, audience and document filters."""
        wanted, only = set(topics or []), set(documents or [])
        return np.array([(not wanted or bool(self._doc_topics[c.doc_id] & wanted))
                         and (not audience or self._doc_audience[c.doc_id] == audience)
                         and (not only or c.doc_id in only)
                         for c in self.index.chunks], dtype=bool)

    def scores(self, query: str, vector: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity (via FAISS) and BM25 score of every chunk for the query.

        vector: the query's embedding when the caller already has it (batch evaluation).
        """
        n = len(self.index.chunks)
        dense = np.full(n, -1.0, dtype=np.float32)
        if n:
            vector = (self.embedder.embed([query]) if vector is None else vector.reshape(1, -1)).astype(np.float32)
            found, positions = self.index.dense.search(vector, n)
            keep = positions[0] >= 0
            dense[positions[0][keep]] = found[0][keep]
        return dense, self.index.bm25.scores(query, n)

    def search(self, query: str, k: int = 10, mode: str = "hybrid", topics: list[str] | None = None,
               audience: str | None = None, max_per_doc: int | None = None,
               vector: np.ndarray | None = None, documents: list[str] | None = None) -> list[Hit]:
        """The top k chunks for the query, at most max_per_doc from any one document (0: no limit)."""
        if mode not in MODES:
            raise InputError(f"mode '{mode}' is not one of {', '.join(MODES)}")
        if not query.strip():
            raise InputError("the query is empty; type a few words")
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        dense, bm25 = self.scores(query, vector)
        return self.rank(dense, bm25, k, mode, self.mask(topics, audience, documents), max_per_doc, query)

    def rank(self, dense: np.ndarray, bm25: np.ndarray, k: int, mode: str, allowed: np.ndarray,
             max_per_doc: int | None = None, query: str = "") -> list[Hit]:
        """Fuse precomputed scores into hits (split out so evaluation can reuse one embedding pass)."""
        s = self.settings
        per_doc = s.max_per_doc if max_per_doc is None else max_per_doc
        if mode == "dense":
            fused = dense.copy()
        elif mode == "bm25":
            fused = bm25.copy()
        elif s.fusion == "rrf":
            depth = min(len(dense), s.candidates)
            rrf = fuse_rrf([np.argsort(-dense, kind="stable")[:depth],
                            np.argsort(-bm25, kind="stable")[:depth]], s.rrf_k)
            fused = np.full(len(dense), -np.inf, dtype=np.float64)
            for pos, value in rrf.items():
                fused[pos] = value
        else:
            fused = fuse_convex(dense, bm25, s.dense_weight)
        fused = np.where(allowed, fused, -np.inf)
        if mode == "bm25":
            fused = np.where(bm25 > 0, fused, -np.inf)  # no shared word: not a BM25 result
        order = [int(i) for i in np.argsort(-fused, kind="stable") if np.isfinite(fused[i])]
        if self.reranker is not None and mode == "hybrid" and query:
            head = order[: s.candidates // 2]
            scores = self.reranker.score(query, [self.index.chunks[i].text for i in head])
            reranked = sorted(zip(head, scores), key=lambda pair: -pair[1])
            for pos, score in reranked:
                fused[pos] = score
            order = [pos for pos, _ in reranked] + order[len(head):]
        hits: list[Hit] = []
        counts: dict[str, int] = {}
        for pos in order:
            chunk = self.index.chunks[pos]
            if per_doc and counts.get(chunk.doc_id, 0) >= per_doc:
                continue
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
            doc = self.index.documents[chunk.doc_id]
            hits.append(Hit(rank=len(hits) + 1, chunk=chunk, score=float(fused[pos]), title=doc.title,
                            topics=doc.topics, audience=doc.audience,
                            url=article_url(doc.id, chunk.section),
                            dense_score=float(dense[pos]), bm25_score=float(bm25[pos])))
            if len(hits) >= k:
                break
        return hits


def load_reranker(name: str) -> Reranker:
    """A sentence-transformers cross-encoder from a local path (or the hub when allowed)."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(name, device="cpu")

    class _CrossEncoderReranker:
        def score(self, query: str, passages: list[str]) -> list[float]:
            return [float(x) for x in model.predict([(query, p) for p in passages], show_progress_bar=False)]

    return _CrossEncoderReranker()
