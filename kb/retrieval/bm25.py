"""The BM25 side of retrieval: bm25s's index with our tokenizer (stemmed, no stopwords), searched top-N.

bm25s stores each word's precomputed BM25 weights as a column of a sparse matrix (chunk positions
and weights; `prepare` puts each long column best weight first). `top` reads a question's postings
best weights first across all its words, at most POSTING_BUDGET of them (all of them on a small
index or for a short question), so a question costs what its words need, not one score per chunk,
and a 35-word question no more than a short one. When every posting fits the result is exact;
otherwise each word cut short leaves a bound (its first unread weight), the chunks that can still
reach the top are rescored exactly from their own postings (the matrix by chunk, made once), and
the bound is reported with the result.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from kb.retrieval.dense import best_first, top_indices, top_of

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


# Postings read per question at most, best weights first over all its words. More postings cost a longer
# scan but a tighter bound, so fewer candidates are rescored. Chosen on the bench questions at 1,000,000
# chunks (CPU mean a question): 200,000 14-17 ms, recall@10 0.983; 300,000 17.0-18.3 ms, 0.992; 400,000
# 18.4-19.4 ms, 0.992; 600,000 about 20 ms, 0.996. At 100,000 chunks most long questions are exact either way.
POSTING_BUDGET = 300_000
SAMPLE = 64  # a long word's weights are sampled every SAMPLE postings (in impact order) to share the budget
RESCORED_PER_RESULT = 2  # when a word was cut short, at most this many chunks per result are scored exactly


@dataclass
class LexicalTop:
    """The best chunks for a query's words, best first, and what an unseen chunk can score at most."""

    positions: np.ndarray
    scores: np.ndarray
    floor: float  # no chunk outside `positions` scores above this (0.0: every matching chunk is here)
    exact: bool = True  # False when the question had more postings than POSTING_BUDGET


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
        self._rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # see rows()
        self._tables: dict[int, np.ndarray] | None = None  # long word -> every SAMPLE-th weight, once prepared
        self._preparing = threading.Lock()

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
        """Exact BM25 scores of the given chunks, added word by word in float32 as bm25s does.

        Read from each chunk's own postings (its row), so the cost is the chunks' length, not the words'.
        """
        total = np.zeros(len(positions), dtype=np.float32)
        if not len(ids) or not len(positions):
            return total
        starts, terms, weights = self.rows()
        rank = np.full(len(self._indptr) - 1, -1, dtype=np.int32)
        rank[ids] = np.arange(len(ids), dtype=np.int32)  # a word's place in the question
        first, lengths = starts[positions], starts[positions + 1] - starts[positions]
        entries = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        word = rank[terms[entries]]
        matched = word >= 0
        entries, word = entries[matched], word[matched]
        owner = np.repeat(np.arange(len(positions)), lengths)[matched]
        order = np.argsort(word, kind="stable")  # word by word, as the columns are added
        np.add.at(total, owner[order], weights[entries[order]])  # in order: float32 sums as bm25s's
        return total

    def sums_of(self, ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """BM25 scores of the given chunks, added in float64 (within a float32 rounding of scores_of, in half
        its time: for the thousands of chunks of a large index's pool)."""
        if not len(ids) or not len(positions):
            return np.zeros(len(positions), dtype=np.float32)
        starts, terms, weights = self.rows()
        asked = np.zeros(len(self._indptr) - 1, dtype=bool)
        asked[ids] = True
        first, lengths = starts[positions], starts[positions + 1] - starts[positions]
        ends = np.cumsum(lengths)
        entries = np.arange(int(ends[-1]), dtype=np.int64)  # each chunk's row, one after another
        entries += np.repeat(first - (ends - lengths), lengths)
        matched = np.flatnonzero(asked[terms[entries]])
        # Which chunk each matched entry is of, found among the few matched (a chunk number per entry
        # cost two more passes over all of them: 15-35 % of this function, which rescores a large pool).
        owner = np.searchsorted(ends, matched, side="right")
        return np.bincount(owner, weights[entries[matched]], minlength=len(positions)).astype(np.float32)

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The matrix by chunk (row starts, word ids, weights), made once: exact scores of a few chunks."""
        if self._rows is None:
            words = len(self._indptr) - 1
            by_chunk = np.argsort(self._indices, kind="stable")  # within a chunk, words stay in id order
            size = int(self._retriever.scores.get("num_docs", 0)) if words else 0
            counts = np.bincount(self._indices, minlength=size) if words else np.zeros(0, dtype=np.int64)
            term = np.repeat(np.arange(words, dtype=np.uint16 if words < 65_536 else np.int32), np.diff(self._indptr))
            starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self._rows = (starts, term[by_chunk], self._data[by_chunk])
        return self._rows

    def prepare(self) -> None:
        """Put each long word's postings best weight first (in place) and make the rows, before any question.

        A question then reads the head of a column, a contiguous slice, where picking the best postings
        out of a column in chunk order gathered from all over the matrix (most of a question's time at
        1,000,000 chunks). The order of postings within a column changes no score (each is added once).
        """
        with self._preparing:  # two searchers made at once on one index must not reorder it twice at once
            if self._tables is not None:
                return
            tables: dict[int, np.ndarray] = {}
            for word in np.flatnonzero(np.diff(self._indptr) > SAMPLE):
                start, end = self._indptr[word], self._indptr[word + 1]
                order = np.argsort(-self._data[start:end], kind="stable")
                self._data[start:end] = self._data[start:end][order]
                self._indices[start:end] = self._indices[start:end][order]
                tables[int(word)] = self._data[start:end:SAMPLE].copy()
            self.rows()  # made before any question; a chunk's row does not depend on the columns' order
            self._tables = tables

    def _heads(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """How many postings of each word to read, best first: the budget goes to the highest weights."""
        counts = lengths.copy()
        long = np.flatnonzero(lengths > SAMPLE)  # a short word is read whole: it costs little
        budget = POSTING_BUDGET - int(lengths.sum() - lengths[long].sum())
        self.prepare()
        assert self._tables is not None
        tables = [self._tables[int(ids[i])] for i in long]
        weights = np.concatenate(tables)
        owner = np.repeat(np.arange(len(long)), [len(t) for t in tables])
        blocks = max(len(long), budget // SAMPLE)  # each sampled weight stands for SAMPLE postings below it
        if blocks < len(weights):
            chosen = np.argpartition(-weights, blocks - 1)[:blocks]
            per_word = np.bincount(owner[chosen], minlength=len(long))
        else:
            per_word = np.array([len(t) for t in tables])
        counts[long] = np.minimum(lengths[long], per_word * SAMPLE)
        return counts

    def top(self, ids: np.ndarray, n: int, allowed=None, positions: np.ndarray | None = None) -> LexicalTop:
        """The n chunks with the highest BM25 score above zero, with their exact scores.

        allowed: a function from chunk positions to a boolean array (a filter), or None for all chunks.
        positions: score only these chunks (a small filtered set).
        """
        if positions is not None and len(ids) and n >= 1:
            return self._best(positions, self.scores_of(ids, positions), n, 0.0)
        return self.scan(ids, allowed).best(n)

    def scan(self, ids: np.ndarray, allowed=None) -> LexicalScan:
        """Add up the query's best postings (at most POSTING_BUDGET) once; `best(n)` then picks."""
        if not len(ids) or len(self._indptr) < 2:
            return LexicalScan(self, ids, np.zeros(0, dtype=np.float32), 0.0, allowed)
        size = int(self._retriever.scores["num_docs"])
        lengths = self._indptr[ids + 1] - self._indptr[ids]
        counts = lengths if int(lengths.sum()) <= POSTING_BUDGET else self._heads(ids, lengths)
        partial = np.zeros(size, dtype=np.float32)
        bound = 0.0
        heads = []
        for word, length, count in zip(ids, lengths, counts, strict=True):
            start, end = self._indptr[word], self._indptr[word + 1]
            column, weights = self._indices[start:end], self._data[start:end]
            if count < length:  # a long word, prepared: best weights first
                bound += float(weights[count])  # a chunk not read gets at most this from the word
                column, weights = column[:count], weights[:count]
            if length > SAMPLE:  # prepared, so what was read of it is best first
                heads.append(weights)
            # A word lists a chunk once, so this adds as `partial[column] += weights` would, in a third of
            # its time (numpy's fancy-index add converts the int32 positions and goes through a buffer).
            np.add.at(partial, column, weights)
        return LexicalScan(self, ids, partial, bound, allowed, tuple(heads))

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
    bound: float  # how much more than its sum a chunk can score (the words cut short)
    allowed: Callable[[np.ndarray], np.ndarray] | None = None  # the filter: which of some positions pass
    heads: tuple[np.ndarray, ...] = ()  # the weights read of each long (prepared) word, best first
    _known: tuple[np.ndarray, np.ndarray] | None = None  # chunks already scored exactly, sorted, and scores

    @cached_property
    def everything(self) -> np.ndarray:
        """The chunks read, allowed or not, sorted, each once."""
        # Every weight is positive, so the chunks read are those with a sum: distinct and sorted, without
        # sorting the (chunk, word) pairs read (2-6 ms a question at 100,000 chunks).
        return np.flatnonzero(self.partial > 0)  # on floats directly, 10 times slower (measured)

    @cached_property
    def seen(self) -> np.ndarray:
        """The chunks read and allowed, sorted, each once."""
        return self.everything[self.allowed(self.everything)] if self.allowed is not None else self.everything

    def _above(self, n: int) -> np.ndarray | None:
        """The chunks whose sum reaches the n-th weight read of some word, sorted; None if n or fewer.

        At least n chunks reach it (the first n that word lists), so the n best sums are among them: one
        comparison over the sums instead of reading every chunk read (after the postings themselves, most
        of a large index's BM25 time: at 1,000,000 chunks a question reads about 270,000 chunks). Not for
        a filtered scan (None): finding the n-th allowed posting of a word cost more than it saved.
        """
        threshold = max((float(w[n - 1]) for w in self.heads if len(w) >= n >= 1), default=0.0)
        if threshold <= 0 or self.allowed is not None:
            return None
        found = np.flatnonzero(self.partial >= threshold)
        return found if len(found) > n else None

    def scores_of(self, positions: np.ndarray) -> np.ndarray:
        """Exact BM25 scores of the given chunks (the sums themselves when every posting was read)."""
        if not len(self.ids) or not len(self.partial):
            return np.zeros(len(positions), dtype=np.float32)
        if self.bound == 0.0:
            return self.partial[positions]
        out = np.empty(len(positions), dtype=np.float32)
        todo = np.ones(len(positions), dtype=bool)
        if self._known is not None and len(self._known[0]):
            known, scores = self._known
            at = np.minimum(np.searchsorted(known, positions), len(known) - 1)
            hit = known[at] == positions
            out[hit], todo = scores[at[hit]], ~hit
        out[todo] = self.index.sums_of(self.ids, positions[todo])
        return out

    def remember(self, positions: np.ndarray, scores: np.ndarray) -> None:
        """Keep the exact scores of some chunks for scores_of: a deeper pool reads most of them again."""
        if self._known is not None and len(self._known[0]):
            positions = np.concatenate([self._known[0], positions])
            scores = np.concatenate([self._known[1], scores])
        order = np.argsort(positions, kind="stable")
        positions, scores = positions[order], scores[order]
        first = np.concatenate(([True], positions[1:] != positions[:-1]))[: len(positions)]
        self._known = (positions[first], scores[first])

    def best(self, n: int) -> LexicalTop:
        """The n best chunks, exactly scored."""
        partial, bound = self.partial, self.bound
        empty = LexicalTop(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), 0.0)
        if n < 1:
            return empty
        # The partial sums are lower bounds; a chunk's score exceeds its sum by at most `bound`, so a
        # chunk whose sum plus `bound` is below the n-th best sum cannot be among the n best: only the
        # rest are scored exactly.
        keep = None
        seen = self._above(n)
        if seen is not None:
            sums = partial[seen]
            cut = float(np.partition(sums, len(seen) - n)[len(seen) - n])  # the n-th best sum
            keep = sums + bound >= cut
            if keep.all():  # a chunk below these could be kept too (and bounds what is cut): read them all
                seen = None
        if seen is None:
            seen, keep = self.seen, None
            if not len(seen):
                return empty
            if len(seen) > n:
                sums = partial[seen]
                cut = float(np.partition(sums, len(seen) - n)[len(seen) - n])
                keep = sums + bound >= cut
        left_out = 0.0  # the most a chunk cut here can score
        if keep is not None:
            if not keep.all():  # kept or not goes with the sum, so the best sum cut is among those looked at
                left_out = float(sums[~keep].max()) + bound
            seen = seen[keep]
        if bound == 0.0:  # every posting was read: the sums are the scores
            return self.index._best(seen, partial[seen], n, left_out)
        most = max(RESCORED_PER_RESULT * n, 500)
        capped = len(seen) > most
        if capped:  # the best sums; a chunk that loses only to the cut is a near-tie of common words
            seen = np.sort(seen[np.argpartition(-partial[seen], most)[:most]])
        scores = self.scores_of(seen)
        self.remember(seen, scores)  # a deeper pool and the fused union read them again
        found = self.index._best(seen, scores, n, max(bound, left_out))
        found.exact = not capped and len(found.scores) == n and float(found.scores[-1]) >= bound
        return found

    def by_sums(self, n: int, head: int) -> LexicalTop:
        """The n chunks with the best sums, each scored by its sum (a lower bound) but the `head` best, exactly.

        For a large index's hybrid pool, which scores exactly only the chunks whose fused score can still
        reach the top (see searcher._bounded_bm25): scoring the n best exactly here (best() rescores up to
        2n) was most of a long question's time at 100,000 chunks.
        """
        if self.bound == 0.0 or n < 1:
            return self.best(n)
        seen = self._above(n)  # the n best sums are among these (more than n)
        if seen is None:
            seen = self.seen
            if not len(seen):
                return self.best(n)
        sums = self.partial[seen]
        chosen = top_indices(sums, n) if len(sums) > n else np.arange(len(sums))
        positions, scores = seen[chosen], sums[chosen].astype(np.float32)
        first = top_indices(scores, head) if len(scores) > head else np.arange(len(scores))
        first = first[np.argsort(positions[first])]
        exact = self.scores_of(positions[first])
        scores[first] = exact
        self.remember(positions[first], exact)  # the pool reads them again
        order = best_first(scores, positions)
        # What an unseen chunk scores at most, as the exact n-th best score stood for it: the exact score of
        # the n-th best sum (a sum alone is lower, and would let the pool stop deepening too early).
        last = positions[order[-1:]]
        floor = float(self.scores_of(last)[0]) if len(seen) > n and len(last) else 0.0
        return LexicalTop(positions[order], scores[order], floor, exact=False)

    def unfiltered(self) -> LexicalScan:
        """The same sums over every chunk read, allowed or not (the best score convex fusion scales by)."""
        unfiltered = LexicalScan(self.index, self.ids, self.partial, self.bound, None, self.heads)
        if "everything" in self.__dict__:  # already found: the same chunks
            unfiltered.everything = self.everything
        return unfiltered
