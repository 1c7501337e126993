"""Dense (FAISS) + BM25 top-N -> fused over their union, filtered, diverse hits."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote

import numpy as np

from kb.config import Settings
from kb.errors import InputError
from kb.index.store import Index
from kb.models.embedders import Embedder
from kb.records import Hit
from kb.retrieval.bm25 import LexicalScan
from kb.retrieval.dense import NPROBE, DenseRetriever, DenseTop, best_first, distinct
from kb.retrieval.filters import ChunkFilters, Selection

MODES = ("hybrid", "dense", "bm25")
DEEPEN_LIMIT = 16  # times settings.candidates, on an approximate index
# On an approximate (IVF) index a hybrid pool's dense side is searched once, deep: the chunks fusion ranks
# first are found by their cosine much more than by BM25 (measured at 1,000,000 synthetic chunks: the exact
# fused top 10's median dense rank 14, p99 11,000; median BM25 rank 1,070), and every vector of the
# hybrid_cells cells is scored anyway (a range search). Its 3,200 best go into the pool: 6,400 cost a larger
# pool and found no more of the exact top 10 once BM25 read twice the postings (recall@10 at 1,000,000
# chunks 0.991 either way, on the bench questions). Its BM25 side starts at LEXICAL_DEEPER times the
# candidates and deepens (x4, once) when the fused top reaches the last BM25 score taken.
DENSE_DEEPER = 4  # times the first BM25 depth
LEXICAL_DEEPER = 8  # times settings.candidates
EXACT_HEAD = 100  # the BM25 side's best chunks by their sums scored exactly at once (the best scales fusion)
RESCORE_RANK = 4  # times k: pool chunks that can still reach this rank get their exact BM25 score
# IVF cells searched for a hybrid pool (NPROBE for dense search alone): the square root of the index's cells,
# so 64 of 4,000 at 1,000,000 chunks (on the bench questions recall@10 0.992; 48 cells 0.990, 32 cells 0.980)
# and 36 of 1,264 at 100,000, where 64 searched more than recall needs (recall 1.0 from 16 to 64 cells;
# CPU mean 4.35 -> 3.63 ms a question with 36).


def hybrid_cells(cells: int) -> int:
    """IVF cells a hybrid pool's dense side searches, for an index of `cells` cells."""
    return max(NPROBE, math.ceil(math.sqrt(cells)))


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    def score(self, query: str, passages: list[str]) -> list[float]: ...


@lru_cache(maxsize=65_536)
def article_url(doc_id: str, section: str = "") -> str:
    """The in-app link to an article, at a section when given (made once per section: quoting each hit's
    link was a twentieth of a search at 100,000 chunks)."""
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


@dataclass
class Pool:
    """The union of each retriever's top chunks, with both scores, and what an unseen chunk can reach.

    Both scores are exact, but on an approximate index a chunk whose fused score cannot reach the top
    keeps a lower bound of its BM25 score (see _bounded_bm25).
    """

    positions: np.ndarray
    dense: np.ndarray
    bm25: np.ndarray
    bm25_best: float  # the best BM25 score of any chunk, filtered or not (convex fusion scales by it)
    dense_floor: float  # no unseen chunk has a higher cosine (-inf: none unseen)
    bm25_floor: float  # nor a higher BM25 score (0.0: none unseen has any query word)
    lexical_exact: bool = True
    dense_top: DenseTop | None = None  # the dense side's own top, reused by a deeper pool on an approximate index


class Searcher:
    """Search one loaded index with one embedder under one settings object.

    A question costs what its answer needs: each retriever returns its top chunks (exact on a small
    index, FAISS IVF on a large one; BM25 through the best postings of the query's words), the union
    is fused, and the pool is deepened only when an unseen chunk could still rank among the k hits.
    On an exact index this gives the same hits as scoring every chunk; on an IVF index the dense side
    is searched deep once and BM25 is exact only where it can change the hits.
    """

    def __init__(self, index: Index, embedder: Embedder, settings: Settings, reranker: Reranker | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self.dense = DenseRetriever(index.dense, index.vectors)
        index.bm25.prepare()  # at load, not at the first question
        self.filters = ChunkFilters(index.documents, index.chunks, getattr(index.chunks, "doc_ids", None))

    def mask(
        self, topics: list[str] | None = None, audience: str | None = None, documents: list[str] | None = None
    ) -> np.ndarray:
        """Which chunks pass the topic, audience and document filters."""
        return self.filters.mask(self.filters.select(topics, audience, documents))

    def scores(self, query: str, vector: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity and BM25 score of every chunk for the query (evaluation's exact reference).

        vector: the query's embedding when the caller already has it (batch evaluation).
        """
        n = len(self.index.chunks)
        dense = np.full(n, -1.0, dtype=np.float32)
        if n:
            dense = self.dense.all_scores(self._vector(query, vector))
        return dense, self.index.bm25.scores(query, n)

    def _vector(self, query: str, vector: np.ndarray | None) -> np.ndarray:
        vector = self.embedder.embed([query])[0] if vector is None else vector
        return np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(-1))

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        topics: list[str] | None = None,
        audience: str | None = None,
        max_per_doc: int | None = None,
        vector: np.ndarray | None = None,
        documents: list[str] | None = None,
    ) -> list[Hit]:
        """The top k chunks for the query, at most max_per_doc from any one document (0: no limit)."""
        if mode not in MODES:
            raise InputError(f"mode '{mode}' is not one of {', '.join(MODES)}")
        if not query.strip():
            raise InputError("the query is empty; type a few words")
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        s = self.settings
        per_doc = s.max_per_doc if max_per_doc is None else max_per_doc
        selection = self.filters.select(topics, audience, documents)
        if selection.count == 0 or not len(self.index.chunks):
            return []
        vec = self._vector(query, vector) if mode != "bm25" else None
        ids = self.index.bm25.query_ids(query) if mode != "dense" else np.zeros(0, dtype=np.int64)
        if mode == "hybrid" and s.fusion == "rrf" and vec is not None:  # hybrid always has a vector
            return self._rrf(vec, ids, k, selection, per_doc, query)
        depth = max(s.candidates * (LEXICAL_DEEPER if self.dense.cells else 1), k)  # a large index: one round
        if self.dense.cells:  # a large index searches a filtered set too (IVF with an ID selector, best postings)
            selection = dataclasses.replace(selection, positions=None)
        elif selection.positions is not None:  # a small filtered set is scored whole, in one round
            depth = max(depth, len(selection.positions))
        scan, best = None, None  # BM25 sums and best score are read once; a deeper pool picks more of them
        if mode != "dense" and selection.positions is None:
            scan = self.index.bm25.scan(ids, selection.allows if selection.bitmap is not None else None)
        dense_top = None  # on an approximate index the dense side is searched deep once; deeper pools reuse it
        scored = None  # and the cosines the last pool read back
        while True:
            pool = self._pool(vec, ids, depth, selection, mode, scan, best, k, dense_top, scored)
            best, dense_top, scored = pool.bm25_best, pool.dense_top, (pool.positions, pool.dense)
            fused, bound = self._fuse(pool, mode)
            finite = np.flatnonzero(np.isfinite(fused))
            order = finite[best_first(fused[finite], pool.positions[finite])]
            hits, last = self._hits(
                pool.positions[order], fused[order], pool.dense[order], pool.bm25[order], k, per_doc, query, mode
            )
            unseen = np.isfinite(bound) and not (mode == "bm25" and pool.bm25_floor <= 0)
            settled = len(hits) >= k and last > bound
            # On an approximate (IVF) index the pool grows at most DEEPEN_LIMIT times: its bound is approximate too.
            limit = depth >= selection.count or bool(self.dense.cells and depth >= DEEPEN_LIMIT * s.candidates)
            if not unseen or settled or limit:
                return hits
            depth *= 4

    def _pool(
        self,
        vec: np.ndarray | None,
        ids: np.ndarray,
        depth: int,
        selection: Selection,
        mode: str,
        scan: LexicalScan | None = None,
        known_best: float | None = None,
        k: int = 1,
        dense_known: DenseTop | None = None,
        scored: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Pool:
        """Each retriever's top `depth` allowed chunks, their union, and both scores of every chunk in it."""
        small = selection.positions
        empty = np.zeros(0, dtype=np.int64)
        approximate = bool(self.dense.cells) and mode == "hybrid"
        dense_top = dense_known if approximate else None
        if vec is not None and dense_top is None:
            if approximate:  # hybrid_cells, DENSE_DEEPER times the first lexical depth: once per question
                dense_depth = max(k, DENSE_DEEPER * LEXICAL_DEEPER * self.settings.candidates)
                probe = hybrid_cells(self.dense.index.nlist)
                dense_top = self.dense.top(vec, dense_depth, selection.bitmap, probe=probe)
            else:
                dense_top = self.dense.top(vec, depth, selection.bitmap, small)
        lexical = None
        if mode != "dense":
            if scan is not None and approximate:
                lexical = scan.by_sums(depth, EXACT_HEAD)
            else:
                lexical = scan.best(depth) if scan is not None else self.index.bm25.top(ids, depth, positions=small)
        positions = distinct(
            np.concatenate([dense_top.positions if dense_top else empty, lexical.positions if lexical else empty])
        )
        if vec is None:
            dense = np.zeros(len(positions), np.float32)
        elif self.dense.cells and dense_top is not None:  # IVF-Flat's scores are exact: read back only the rest
            # A deeper pool holds the last one, whose cosines (the dense top's among them) are known.
            known = dense_top if scored is None else DenseTop(scored[0], scored[1], dense_top.floor)
            dense = self.dense.scores_with(vec, positions, known)
        else:
            dense = self.dense.scores_of(vec, positions)
        best = 0.0 if known_best is None else known_best
        if mode == "hybrid" and len(ids) and known_best is None:
            if selection.bitmap is None and lexical is not None:
                best = float(lexical.scores[0]) if len(lexical.scores) else 0.0
            else:  # scaled by the best score over every chunk, as when every chunk was scored
                if scan is not None and approximate:  # the best of the head scored exactly, as unfiltered
                    top = scan.unfiltered().by_sums(EXACT_HEAD, EXACT_HEAD)
                else:
                    top = scan.unfiltered().best(1) if scan is not None else self.index.bm25.scan(ids).best(1)
                best = float(top.scores[0]) if len(top.scores) else 0.0
        if scan is not None and approximate and scan.bound > 0 and best > 0:
            bm25 = self._bounded_bm25(scan, positions, dense, best, RESCORE_RANK * k)
        elif scan is not None:
            bm25 = scan.scores_of(positions)
        else:
            bm25 = self.index.bm25.scores_of(ids, positions) if len(ids) else np.zeros(len(positions), np.float32)
        lexical_floor = lexical.floor if lexical else 0.0
        if approximate and lexical is not None:
            # The scan's bound (every word cut short at its threshold at once) is far above what any chunk
            # scores; on an approximate index the last BM25 score taken stands for what an unseen chunk has.
            # Scored by their sums (LexicalScan.by_sums), the exact score of the last one stands for it.
            last = (float(lexical.scores[-1]) if lexical.exact else lexical.floor) if len(lexical.scores) else 0.0
            lexical_floor = last if len(lexical.scores) >= depth else 0.0
        return Pool(
            positions,
            dense,
            bm25,
            best,
            dense_top.floor if dense_top else -np.inf,
            lexical_floor,
            lexical.exact if lexical else True,
            dense_top,
        )

    def _bounded_bm25(
        self, scan: LexicalScan, positions: np.ndarray, dense: np.ndarray, best: float, rank: int
    ) -> np.ndarray:
        """BM25 scores of a deep pool, exact where the fused score could reach the top, a lower bound elsewhere.

        A chunk's BM25 score lies between its partial sum and that plus the scan's bound, and is at most the
        best score (which fusion scales by). The best lower bounds are scored exactly first; then every
        chunk whose fused score at most reaches the rank-th best exact fused score so far: no chunk left
        can then be among the rank best (a few hundred of several thousand are scored). rank is
        RESCORE_RANK * k: room for the hits the per-document limit passes over (past it, those chunks rank
        by their lower bound).
        """
        w = self.settings.dense_weight
        lower = scan.partial[positions]
        low = w * dense + (1.0 - w) * lower / best
        # The most a chunk's fused score can be: its sum plus the scan's bound, but not above the best score.
        # A long question cuts many words short, and its bound alone passed the best score: every chunk of
        # the pool was rescored (up to 9,000 a question at 1,000,000 chunks).
        upper = np.minimum(low + (1.0 - w) * scan.bound / best, w * dense + (1.0 - w))
        bm25 = lower.astype(np.float32)
        todo = np.ones(len(positions), dtype=bool)
        taken = np.argsort(-low)[: max(2 * rank, 128)]  # the best lower bounds first: a first rank-th best
        while len(taken):
            bm25[taken] = scan.scores_of(positions[taken])
            todo[taken] = False
            scored = np.flatnonzero(~todo)
            if len(scored) < rank:
                taken = np.flatnonzero(todo)
                continue
            fused = w * dense[scored] + (1.0 - w) * bm25[scored] / best
            reached = np.partition(fused, len(fused) - rank)[len(fused) - rank]
            taken = np.flatnonzero(todo & (upper >= reached))  # every chunk left that can still reach it
        scan.remember(positions[~todo], bm25[~todo])  # a deeper pool holds them again
        return bm25

    def _fuse(self, pool: Pool, mode: str) -> tuple[np.ndarray, float]:
        """Fused scores of the pool, and the highest fused score an unseen chunk could have."""
        w = self.settings.dense_weight
        if mode == "dense":
            return pool.dense.astype(np.float64), pool.dense_floor
        if mode == "bm25":
            fused = np.where(pool.bm25 > 0, pool.bm25, -np.inf).astype(np.float64)
            return fused, pool.bm25_floor if pool.bm25_floor > 0 else -np.inf
        scaled = pool.bm25 / pool.bm25_best if pool.bm25_best > 0 else np.zeros_like(pool.bm25)
        fused = (w * pool.dense + (1.0 - w) * scaled).astype(np.float64)
        if not np.isfinite(pool.dense_floor):
            return fused, -np.inf
        lexical = pool.bm25_floor / pool.bm25_best if pool.bm25_best > 0 else 0.0
        return fused, w * pool.dense_floor + (1.0 - w) * lexical

    def _rrf(
        self, vec: np.ndarray, ids: np.ndarray, k: int, selection: Selection, per_doc: int, query: str
    ) -> list[Hit]:
        """Reciprocal rank fusion of each retriever's top `candidates` over all chunks, then the filter."""
        depth = min(len(self.index.chunks), self.settings.candidates)
        dense = self.dense.top(vec, depth)
        lexical = self.index.bm25.top(ids, depth)
        ranking = lexical.positions
        if len(ranking) < depth:  # as a full sort would: chunks without a query word follow, in order
            rest = np.setdiff1d(np.arange(depth + len(ranking)), ranking)[: depth - len(ranking)]
            ranking = np.concatenate([ranking, rest])
        rrf = fuse_rrf([dense.positions, ranking], self.settings.rrf_k)
        positions = np.array(sorted(rrf), dtype=np.int64)
        positions = positions[selection.allows(positions)]
        dense_scores, bm25_scores = self.dense.scores_of(vec, positions), self.index.bm25.scores_of(ids, positions)
        fused = np.array([rrf[int(p)] for p in positions], dtype=np.float64)
        order = np.lexsort((positions, -fused))
        return self._hits(
            positions[order], fused[order], dense_scores[order], bm25_scores[order], k, per_doc, query, "hybrid"
        )[0]

    def hit_at(self, position: int, vector: np.ndarray, rank: int = 1) -> Hit:
        """One chunk as a hit, scored by its cosine with the query vector (an FAQ section chosen by its heading)."""
        chunk = self.index.chunks[position]
        doc = self.index.documents[chunk.doc_id]
        dense = float(self.dense.scores_of(self._vector("", vector), np.array([position], dtype=np.int64))[0])
        return Hit(
            rank=rank,
            chunk=chunk,
            score=dense,
            title=doc.title,
            topics=doc.topics,
            audience=doc.audience,
            url=article_url(doc.id, chunk.section),
            dense_score=dense,
        )

    def rank(
        self,
        dense: np.ndarray,
        bm25: np.ndarray,
        k: int,
        mode: str,
        allowed: np.ndarray,
        max_per_doc: int | None = None,
        query: str = "",
    ) -> list[Hit]:
        """Fuse scores of every chunk into hits (evaluation: one embedding pass, then several fusions)."""
        s = self.settings
        per_doc = s.max_per_doc if max_per_doc is None else max_per_doc
        if mode == "dense":
            fused = dense.astype(np.float64)
        elif mode == "bm25":
            fused = bm25.astype(np.float64)
        elif s.fusion == "rrf":
            depth = min(len(dense), s.candidates)
            rrf = fuse_rrf(
                [np.argsort(-dense, kind="stable")[:depth], np.argsort(-bm25, kind="stable")[:depth]], s.rrf_k
            )
            fused = np.full(len(dense), -np.inf, dtype=np.float64)
            fused[list(rrf)] = list(rrf.values())
        else:
            fused = fuse_convex(dense, bm25, s.dense_weight)
        fused = np.where(allowed, fused, -np.inf)
        if mode == "bm25":
            fused = np.where(bm25 > 0, fused, -np.inf)  # no shared word: not a BM25 result
        positions = np.flatnonzero(np.isfinite(fused))
        positions = positions[np.argsort(-fused[positions], kind="stable")]
        return self._hits(positions, fused[positions], dense[positions], bm25[positions], k, per_doc, query, mode)[0]

    def _hits(
        self,
        positions: np.ndarray,
        fused: np.ndarray,
        dense: np.ndarray,
        bm25: np.ndarray,
        k: int,
        per_doc: int,
        query: str,
        mode: str,
    ) -> tuple[list[Hit], float]:
        """Hits in fused order (the arrays are aligned, best first) with at most per_doc per document.

        Also returns the lowest fused score among the chunks looked at: when it is above what an unseen
        chunk can reach, no deeper pool would change these hits.
        """
        s = self.settings
        order: list[int] | range = range(len(positions))
        scores = fused
        last = np.inf
        if self.reranker is not None and mode == "hybrid" and query:
            head = list(range(min(len(positions), s.candidates // 2)))
            if head:
                last = float(fused[head[-1]])  # the whole head is reordered, so all of it must be settled
            texts = [self.index.chunks[int(positions[i])].text for i in head]
            reranked = sorted(zip(head, self.reranker.score(query, texts), strict=True), key=lambda pair: -pair[1])
            order = [i for i, _ in reranked] + list(range(len(head), len(positions)))
            scores = fused.copy()
            for i, score in reranked:
                scores[i] = score
        hits: list[Hit] = []
        counts: dict[str, int] = {}
        for i in order:
            last = min(last, float(fused[i]))
            chunk = self.index.chunks[int(positions[i])]
            if per_doc and counts.get(chunk.doc_id, 0) >= per_doc:
                continue
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
            doc = self.index.documents[chunk.doc_id]
            hits.append(
                Hit(
                    rank=len(hits) + 1,
                    chunk=chunk,
                    score=float(scores[i]),
                    title=doc.title,
                    topics=doc.topics,
                    audience=doc.audience,
                    url=article_url(doc.id, chunk.section),
                    dense_score=float(dense[i]),
                    bm25_score=float(bm25[i]),
                )
            )
            if len(hits) >= k:
                break
        return hits, last


def load_reranker(name: str) -> Reranker:
    """A sentence-transformers cross-encoder from a local path (or the hub when allowed)."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(name, device="cpu")

    class _CrossEncoderReranker:
        def score(self, query: str, passages: list[str]) -> list[float]:
            return [float(x) for x in model.predict([(query, p) for p in passages], show_progress_bar=False)]

    return _CrossEncoderReranker()
