"""The dense side of retrieval: exact inner products on a small index, a FAISS IVF index above a size threshold.

Below APPROXIMATE_ABOVE chunks one matrix-vector product scores every chunk exactly, which is faster
than any index structure at that size. Above it, an inverted-file index (k-means cells, IVF-Flat)
scores exactly the chunks of the NPROBE cells nearest the question (a hybrid search asks for more,
see searcher.hybrid_cells): a number of vectors that grows with the square root of the size. IVF
rather than HNSW: near-duplicate passages (a corpus of versions, translations and replicas) sit in
one cell and are compared exactly, where a graph walk misses some of them (measured in `kb bench
scale`: HNSW recall@10 0.76-0.84 at 100,000 chunks), and it builds in a fraction of the time. A
filter becomes a FAISS ID selector (a bitmap), never a mask built chunk by chunk, and widens the
cells searched by the share of chunks it leaves out, so as many allowed vectors are compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

APPROXIMATE_ABOVE = 20_000  # chunks; `kb bench scale` measures exact search beside IVF at each size
NPROBE = 32  # cells searched per question, at least
TRAIN_PER_CELL = 40  # k-means sample: this many vectors per cell (faiss warns below 39)


def cells_for(size: int) -> int:
    """IVF cells for an index of `size` vectors: about 4 * sqrt(size), each with enough to train on."""
    return max(1, min(int(4 * math.sqrt(size)), size // TRAIN_PER_CELL))


def build_dense_index(vectors: np.ndarray, dimension: int) -> Any:
    """A FAISS inner-product index of the vectors: flat (exact) when small, IVF-Flat when large."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) <= APPROXIMATE_ABOVE:
        flat = faiss.IndexFlatIP(dimension)
        if len(vectors):
            flat.add(vectors)
        return flat
    cells = cells_for(len(vectors))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, cells, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), cells * TRAIN_PER_CELL), replace=False)
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    index.nprobe = min(NPROBE, cells)
    return index


def stored_vectors(index: Any) -> np.ndarray | None:
    """The vectors held inside a FAISS flat index, as a read-only view (no copy); None for other kinds."""
    import faiss

    if not hasattr(index, "get_xb") or index.ntotal == 0:
        return None
    view = faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
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

    def __init__(self, index: Any, vectors: np.ndarray | None):
        self.index = index
        self.cells = hasattr(index, "nprobe")  # IVF: approximate
        if self.cells:
            index.make_direct_map()  # a chunk's vector read back by position, without a second copy
        self.vectors = vectors if vectors is not None and len(vectors) else stored_vectors(index)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def scores_of(self, vector: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Exact cosine of the query with the given chunks."""
        if not len(positions):
            return np.zeros(0, dtype=np.float32)
        if self.vectors is None:
            return inner_products(self.index.reconstruct_batch(positions.astype(np.int64)), vector)
        return self.vectors[positions] @ vector

    def all_scores(self, vector: np.ndarray) -> np.ndarray:
        """Exact cosine with every chunk (for a small index, and for evaluation)."""
        if not len(self):
            return np.zeros(0, dtype=np.float32)
        if self.vectors is None:  # read back in blocks, so scoring everything never doubles the memory
            block = 65_536
            return np.concatenate(
                [
                    self.index.reconstruct_n(start, min(block, len(self) - start)) @ vector
                    for start in range(0, len(self), block)
                ]
            )
        return self.vectors @ vector

    def top(
        self,
        vector: np.ndarray,
        n: int,
        bitmap: np.ndarray | None = None,
        positions: np.ndarray | None = None,
        probe: int | None = None,
    ) -> DenseTop:
        """The n best chunks, among `positions` or the chunks set in `bitmap` when given (else all).

        probe: IVF cells to search (default the index's nprobe), before a filter widens it.
        """
        if positions is not None:  # a small allowed set: score it exactly
            return top_of(self.scores_of(vector, positions), n, positions)
        if not self.cells:
            scores = self.all_scores(vector)
            if bitmap is not None:
                scores = np.where(unpack(bitmap, len(scores)), scores, -np.inf)
            return top_of(scores, n)
        import faiss

        params = faiss.SearchParametersIVF()
        params.nprobe = min(self.index.nlist, probe or self.index.nprobe)
        # Searched again, wider, while a filtered search finds fewer than this: n, or half the vectors a search
        # without the filter compares when that is fewer (found less than it, a filter's chunks are elsewhere).
        wanted = min(n, len(self) * params.nprobe // (2 * self.index.nlist))
        if bitmap is not None:
            # As many allowed vectors compared as without a filter: more cells, in proportion to what the
            # filter leaves out (a cell's vectors outside the filter are skipped, not compared).
            allowed = max(1, int(np.bitwise_count(bitmap).sum()))
            params.nprobe = min(self.index.nlist, math.ceil(params.nprobe * len(self) / allowed))
            selector = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(bitmap))
            params.sel = selector
        query = vector.reshape(1, -1).astype(np.float32)
        while True:
            # Every vector of the cells, then the n best in numpy: FAISS's heap of n results costs more than
            # the scan itself for a deep top (96 cells, n 6,400 at 100,000 chunks: 2.2 ms against 0.8 ms).
            _, found, ids = self.index.range_search(query, -np.inf, params=params)
            # A filter's chunks can sit in cells far from the question: search 4 times as many until enough are found.
            if len(found) >= wanted or params.nprobe >= self.index.nlist or bitmap is None:
                break
            params.nprobe = min(self.index.nlist, 4 * params.nprobe)
        best = top_of(found, n, ids)
        # Fewer than n found means every allowed chunk was seen only when every cell was searched.
        everything = params.nprobe >= self.index.nlist
        scores = best.scores
        floor = -np.inf if len(scores) < n and everything else float(scores[-1]) if len(scores) else 1.0
        return DenseTop(best.positions, scores, floor)

    def scores_with(self, vector: np.ndarray, positions: np.ndarray, known: DenseTop) -> np.ndarray:
        """Exact cosine with the given chunks, taking those of `known` (an IVF-Flat search's, exact) as found."""
        out = np.empty(len(positions), dtype=np.float32)
        order = np.argsort(known.positions)  # distinct positions: no ties to keep in order
        ordered = known.positions[order]
        at = np.minimum(np.searchsorted(ordered, positions), max(len(ordered) - 1, 0))
        hit = ordered[at] == positions if len(ordered) else np.zeros(len(positions), dtype=bool)
        out[hit] = known.scores[order[at[hit]]]
        out[~hit] = self.scores_of(vector, positions[~hit])
        return out


def inner_products(vectors: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Each row's inner product with the vector, on this thread (FAISS's kernel, which IVF-Flat scores with).

    numpy's matrix-vector product hands a few thousand rows to OpenBLAS's threads, which then spin
    waiting for work: on two shared cores that doubled a question's CPU time and its p95 at 1,000,000
    chunks (measured); a question runs on one thread.
    """
    import faiss

    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    query = np.ascontiguousarray(vector, dtype=np.float32)
    out = np.empty(len(rows), dtype=np.float32)
    kernel = faiss.fvec_inner_products_ny  # type: ignore[attr-defined]  # SWIG's, not in the stubs
    if len(rows):
        kernel(faiss.swig_ptr(out), faiss.swig_ptr(query), faiss.swig_ptr(rows), len(query), len(rows))
    return out


def top_of(scores: np.ndarray, n: int, positions: np.ndarray | None = None) -> DenseTop:
    """The n best of an array of scores (-inf: not allowed), ties broken by lower position as a stable sort."""
    finite = np.isfinite(scores)
    count = int(finite.sum())
    best = top_indices(scores, n) if count > n else np.flatnonzero(finite)
    best = best[best_first(scores[best], best if positions is None else positions[best])]
    floor = float(scores[best[-1]]) if count > n else -np.inf
    chosen = best if positions is None else positions[best]
    return DenseTop(chosen.astype(np.int64), scores[best].astype(np.float32), floor)


def best_first(scores: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The order of scores from high to low, ties broken by lower position (what a stable sort by score of
    sorted positions gives).

    An unstable sort, then only the runs of equal scores put in position order: numpy's stable sorts take 5
    to 10 times as long (measured: 0.6 ms against 0.1 ms for 6,400 scores), and among thousands of float32
    cosines a few are equal.
    """
    order = np.argsort(-scores)
    ordered = scores[order]
    equal = ordered[1:] == ordered[:-1]
    if not equal.any():
        return order
    run = np.concatenate(([0], np.cumsum(~equal)))  # the run of equal scores each place belongs to
    tied = np.flatnonzero(np.concatenate(([False], equal)) | np.concatenate((equal, [False])))
    order[tied] = order[tied][np.lexsort((positions[order[tied]], run[tied]))]
    return order


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


def distinct(positions: np.ndarray) -> np.ndarray:
    """Sorted distinct positions. A sort and a comparison: numpy 2.4's hash-based np.unique takes about
    500 ms for 200,000 integers (measured), where this takes 8."""
    ordered = np.sort(positions)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
