"""The dense side of retrieval: exact inner products on a small index, FAISS HNSW above a size threshold.

Below HNSW_ABOVE chunks one matrix-vector product scores every chunk exactly, which is faster than
any graph walk at that size. Above it, an HNSW graph finds the top-N neighbours while visiting a few
thousand vectors, whatever the size; a filter becomes a FAISS ID selector (a bitmap), never a mask
built chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

HNSW_ABOVE = 20_000  # chunks; `kb bench scale` measures exact search beside HNSW at each size
HNSW_M = 32  # graph degree: recall >= 0.97 at efSearch 128 on 1M synthetic chunks, 256 MB of links
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128


def build_dense_index(vectors: np.ndarray, dimension: int) -> Any:
    """A FAISS inner-product index of the vectors: flat (exact) when small, HNSW when large."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) > HNSW_ABOVE:
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(vectors):
        index.add(vectors)
    return index


def stored_vectors(index: Any) -> np.ndarray | None:
    """The vectors held inside a FAISS flat or HNSW-flat index, as a read-only view (no copy)."""
    import faiss

    flat = faiss.downcast_index(index.storage) if hasattr(index, "hnsw") else index
    if not hasattr(flat, "get_xb") or index.ntotal == 0:
        return None
    view = faiss.rev_swig_ptr(flat.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
    view.flags.writeable = False
    return view


@dataclass
class DenseTop:
    """The best chunks for a query vector, best first, and what an unseen chunk can score at most."""

    positions: np.ndarray
    scores: np.ndarray
    floor: float  # no chunk outside `positions` scores above this (-inf: every allowed chunk is here)


class DenseRetriever:
    """Top-N cosine similarity over one FAISS index (vectors are L2-normalized, so inner product)."""

    def __init__(self, index: Any, vectors: np.ndarray):
        self.index = index
        self.vectors = vectors
        self.graph = hasattr(index, "hnsw")

    def __len__(self) -> int:
        return len(self.vectors)

    def scores_of(self, vector: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Exact cosine of the query with the given chunks."""
        if not len(positions):
            return np.zeros(0, dtype=np.float32)
        return self.vectors[positions] @ vector

    def all_scores(self, vector: np.ndarray) -> np.ndarray:
        """Exact cosine with every chunk (for a small index, and for evaluation)."""
        return self.vectors @ vector if len(self.vectors) else np.zeros(0, dtype=np.float32)

    def top(self, vector: np.ndarray, n: int, bitmap: np.ndarray | None = None,
            positions: np.ndarray | None = None) -> DenseTop:
        """The n best chunks, among `positions` or the chunks set in `bitmap` when given (else all)."""
        if positions is not None:  # a small allowed set: score it exactly
            return top_of(self.scores_of(vector, positions), n, positions)
        if not self.graph:
            scores = self.all_scores(vector)
            if bitmap is not None:
                scores = np.where(unpack(bitmap, len(scores)), scores, -np.inf)
            return top_of(scores, n)
        import faiss

        params = faiss.SearchParametersHNSW()
        params.efSearch = max(HNSW_EF_SEARCH, n)
        if bitmap is not None:
            selector = faiss.IDSelectorBitmap(len(self.vectors), faiss.swig_ptr(bitmap))
            params.sel = selector
        found, ids = self.index.search(vector.reshape(1, -1).astype(np.float32), n, params=params)
        keep = ids[0] >= 0
        positions, scores = ids[0][keep], found[0][keep]
        floor = float(scores[-1]) if len(scores) == n else -np.inf
        return DenseTop(positions.astype(np.int64), scores.astype(np.float32), floor)


def top_of(scores: np.ndarray, n: int, positions: np.ndarray | None = None) -> DenseTop:
    """The n best of an array of scores (-inf: not allowed), ties broken by lower position as a stable sort."""
    finite = np.isfinite(scores)
    count = int(finite.sum())
    best = top_indices(scores, n) if count > n else np.flatnonzero(finite)
    best = best[np.lexsort((best if positions is None else positions[best], -scores[best]))]
    floor = float(scores[best[-1]]) if count > n else -np.inf
    chosen = best if positions is None else positions[best]
    return DenseTop(chosen.astype(np.int64), scores[best].astype(np.float32), floor)


def top_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n highest scores, including every index tied with the n-th (order not defined)."""
    if n >= len(scores):
        return np.arange(len(scores))
    nth = np.partition(scores, len(scores) - n)[len(scores) - n]
    above = np.flatnonzero(scores > nth)
    tied = np.flatnonzero(scores == nth)
    return np.concatenate([above, tied[: n - len(above)]])


def unpack(bitmap: np.ndarray, size: int) -> np.ndarray:
    """A packed (little-endian bit order) bitmap as a boolean array of `size`."""
    return np.unpackbits(bitmap, count=size, bitorder="little").astype(bool)
