"""The BM25 side of retrieval: bm25s's index with our tokenizer (stemmed, no stopwords), searched top-N.

bm25s stores each word's precomputed BM25 weights as a column of a sparse matrix (chunk positions
sorted, weights beside them). `top` adds up, for each query word, at most WORD_BUDGET of its
best-weighted postings (all of them for all but very common words), so a question costs what its
words need, not one score per chunk. When every word fits the budget the result is exact; a word
past it is a common one with small weights, and the bound it leaves is reported with the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from kb.retrieval.dense import top_of

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer
    except ImportError:  # PyStemmer is a dependency; without it BM25 still works, unstemmed
        return None
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    """bm25s's English stopwords, read from its module file: importing the bm25s package pulls in scipy."""
    import importlib.util

    package = importlib.util.find_spec("bm25s")
    if package is None or not package.submodule_search_locations:
        raise ImportError("bm25s is not installed: pip install bm25s")
    path = Path(list(package.submodule_search_locations)[0]) / "stopwords.py"
    spec = importlib.util.spec_from_file_location("kb_bm25s_stopwords", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return frozenset(module.STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens, English stopwords removed, Snowball-stemmed."""
    stop = _stopwords()
    words = [w for w in _WORD.findall(text.lower()) if w not in stop]
    stemmer = _stemmer()
    return stemmer.stemWords(words) if stemmer else words


WORD_BUDGET = 20_000  # postings read per query word at most, best weights first; past it, approximate
RESCORED_PER_RESULT = 8  # when a word was cut short, at most this many chunks per result are scored exactly


@dataclass
class LexicalTop:
    """The best chunks for a query's words, best first, and what an unseen chunk can score at most."""

    positions: np.ndarray
    scores: np.ndarray
    floor: float  # no chunk outside `positions` scores above this (0.0: every matching chunk is here)
    exact: bool = True  # False when a word had more postings than WORD_BUDGET


class _Saved:
    """A BM25 matrix read from bm25s's files: what BM25Index reads of a bm25s retriever."""

    def __init__(self, scores: dict, vocab: dict[str, int]):
        self.scores, self.vocab_dict = scores, vocab

    def save(self, folder: str, allow_pickle: bool = False) -> None:
        raise TypeError("a loaded BM25 index is read-only; build it again to save it")


class BM25Index:
    """BM25 scores for every chunk, saved in bm25s's own JSON + .npy format."""

    def __init__(self, retriever):
        self._retriever = retriever
        matrix = getattr(retriever, "scores", None) or {}
        # An empty index has no postings: no words ([0] as indptr) rather than None to check everywhere.
        self._data: np.ndarray = matrix["data"] if "data" in matrix else np.zeros(0, dtype=np.float32)
        self._indices: np.ndarray = matrix["indices"] if "indices" in matrix else np.zeros(0, dtype=np.int64)
        self._indptr: np.ndarray = matrix["indptr"] if "indptr" in matrix else np.zeros(1, dtype=np.int64)
        self._impact: dict[int, np.ndarray] = {}  # word id -> its postings by weight, best first

    @classmethod
    def build(cls, texts: list[str]) -> BM25Index:
        import bm25s

        retriever = bm25s.BM25()
        corpus = [tokenize(t) or [""] for t in texts]
        # bm25s cannot save an index of nothing; a placeholder keeps an empty corpus buildable
        # (scores() returns an empty array for zero chunks, so it is never seen).
        retriever.index(corpus or [[""]], show_progress=False)
        return cls(retriever)

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        """Read bm25s's files (JSON and .npy) directly: serving never imports bm25s (and scipy with it)."""
        import json

        matrix = {
            name: np.load(Path(folder) / f"{name}.csc.index.npy", allow_pickle=False)
            for name in ("data", "indices", "indptr")
        }
        vocab = json.loads((Path(folder) / "vocab.index.json").read_text(encoding="utf-8"))
        params = json.loads((Path(folder) / "params.index.json").read_text(encoding="utf-8"))
        if not isinstance(vocab, dict) or not isinstance(params, dict) or "num_docs" not in params:
            raise ValueError(f"{folder}: vocab.index.json or params.index.json is not what bm25s writes")
        if (
            len(matrix["indptr"]) < 1
            or len(matrix["data"]) != len(matrix["indices"])
            or int(matrix["indptr"][-1]) != len(matrix["data"])
        ):
            raise ValueError(f"{folder}: the BM25 matrix files do not agree with each other")
        return cls(_Saved({**matrix, "num_docs": int(params["num_docs"])}, vocab))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), allow_pickle=False)

    def scores(self, query: str, size: int) -> np.ndarray:
        """A BM25 score for each of the `size` chunks (zeros when no query word is in the index)."""
        # Each distinct word counts once: long questions repeat common words, which would drown rare ones.
        ids = self.query_ids(query)
        if not len(ids) or size == 0:
            return np.zeros(size, dtype=np.float32)
        total = np.zeros(int(self._retriever.scores["num_docs"]), dtype=np.float32)
        for word in ids:  # word by word in float32, as bm25s adds them
            start, end = self._indptr[word], self._indptr[word + 1]
            total[self._indices[start:end]] += self._data[start:end]
        return total[:size]

    def query_ids(self, query: str) -> np.ndarray:
        """The distinct indexed word ids of a query: each counts once (see scores)."""
        vocab = getattr(self._retriever, "vocab_dict", None) or {}
        words = len(self._indptr) - 1  # bm25s's vocab may hold one more
        return np.array(
            [vocab[t] for t in dict.fromkeys(tokenize(query)) if vocab.get(t, words) < words], dtype=np.int64
        )

    def scores_of(self, ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Exact BM25 scores of the given chunks, added word by word in float32 as bm25s does."""
        total = np.zeros(len(positions), dtype=np.float32)
        for word in ids:
            start, end = self._indptr[word], self._indptr[word + 1]
            column = self._indices[start:end]
            at = np.minimum(np.searchsorted(column, positions), max(len(column) - 1, 0))
            found = column[at] == positions if len(column) else np.zeros(len(positions), dtype=bool)
            total[found] += self._data[start:end][at[found]]
        return total

    def impact_order(self, word: int) -> np.ndarray:
        """The postings of one word ordered by weight, best first (computed once per word)."""
        order = self._impact.get(word)
        if order is None:
            start, end = self._indptr[word], self._indptr[word + 1]
            order = np.argsort(-self._data[start:end], kind="stable").astype(np.int32)
            self._impact[word] = order
        return order

    def prepare(self) -> None:
        """Order the postings of every word longer than the budget now (a server does it before its first question)."""
        lengths = np.diff(self._indptr)
        for word in np.flatnonzero(lengths > WORD_BUDGET):
            self.impact_order(int(word))

    def top(self, ids: np.ndarray, n: int, allowed=None, positions: np.ndarray | None = None) -> LexicalTop:
        """The n chunks with the highest BM25 score above zero, with their exact scores.

        allowed: a function from chunk positions to a boolean array (a filter), or None for all chunks.
        positions: score only these chunks (a small filtered set).
        """
        if positions is not None and len(ids) and n >= 1:
            return self._best(positions, self.scores_of(ids, positions), n, 0.0)
        return self.scan(ids, allowed).best(n)

    def scan(self, ids: np.ndarray, allowed=None) -> LexicalScan:
        """Add up each query word's postings (at most WORD_BUDGET, best first) once; `best(n)` then picks."""
        if not len(ids) or len(self._indptr) < 2:
            return LexicalScan(self, ids, np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64), 0.0)
        size = int(self._retriever.scores["num_docs"])
        partial = np.zeros(size, dtype=np.float32)
        bound = 0.0
        for word in ids:
            start, end = self._indptr[word], self._indptr[word + 1]
            column, weights = self._indices[start:end], self._data[start:end]
            if end - start > WORD_BUDGET:
                head = self.impact_order(int(word))[:WORD_BUDGET]
                bound += float(weights[head[-1]])  # a chunk past the head gets at most this from the word
                column, weights = column[head], weights[head]
            partial[column] += weights  # a word lists a chunk once, so no two writes collide
        # Every weight is positive, so the chunks read are those with a sum: distinct and sorted, without
        # sorting the (chunk, word) pairs read (2-6 ms a question at 100,000 chunks).
        seen = np.flatnonzero(partial)
        if allowed is not None:
            seen = seen[allowed(seen)]
        return LexicalScan(self, ids, partial, seen, bound)

    @staticmethod
    def _best(positions: np.ndarray, scores: np.ndarray, n: int, bound: float) -> LexicalTop:
        positive = scores > 0
        best = top_of(scores[positive], n, positions[positive])
        floor = max(bound, best.floor if np.isfinite(best.floor) else 0.0)
        return LexicalTop(best.positions, best.scores, floor)


@dataclass
class LexicalScan:
    """One question's partial BM25 sums over the postings read, from which any top-n is picked."""

    index: BM25Index
    ids: np.ndarray
    partial: np.ndarray  # per chunk: the sum of the weights read (the exact score when bound is 0)
    seen: np.ndarray  # chunks read, sorted, each once
    bound: float  # how much more than its sum a chunk can score (the words cut short)

    def scores_of(self, positions: np.ndarray) -> np.ndarray:
        """Exact BM25 scores of the given chunks (the sums themselves when every posting was read)."""
        if not len(self.ids):
            return np.zeros(len(positions), dtype=np.float32)
        return self.partial[positions] if self.bound == 0.0 else self.index.scores_of(self.ids, positions)

    def best(self, n: int) -> LexicalTop:
        """The n best chunks, exactly scored."""
        seen, partial, bound = self.seen, self.partial, self.bound
        if n < 1 or not len(seen):
            return LexicalTop(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), 0.0)
        # The partial sums are lower bounds; a chunk's score exceeds its sum by at most `bound`, so a
        # chunk whose sum plus `bound` is below the n-th best sum cannot be among the n best: only the
        # rest are scored exactly.
        left_out = 0.0  # the most a chunk cut here can score
        if len(seen) > n:
            sums = partial[seen]
            cut = float(np.partition(sums, len(seen) - n)[len(seen) - n])  # the n-th best sum
            keep = sums + bound >= cut
            if not keep.all():
                left_out = float(sums[~keep].max()) + bound
            seen = seen[keep]
        if bound == 0.0:  # every posting was read: the sums are the scores
            return self.index._best(seen, partial[seen], n, left_out)
        most = max(RESCORED_PER_RESULT * n, 2_000)
        capped = len(seen) > most
        if capped:  # the best sums; a chunk that loses only to the cut is a near-tie of common words
            seen = np.sort(seen[np.argpartition(-partial[seen], most)[:most]])
        found = self.index._best(seen, self.index.scores_of(self.ids, seen), n, max(bound, left_out))
        found.exact = not capped and len(found.scores) == n and float(found.scores[-1]) >= bound
        return found
