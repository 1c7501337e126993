"""The BM25 side of retrieval: a thin wrapper over bm25s with our tokenizer (stemmed, no stopwords)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

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
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens, English stopwords removed, Snowball-stemmed."""
    stop = _stopwords()
    words = [w for w in _WORD.findall(text.lower()) if w not in stop]
    stemmer = _stemmer()
    return stemmer.stemWords(words) if stemmer else words


class BM25Index:
    """BM25 scores for every chunk, saved in bm25s's own JSON + .npy format."""

    def __init__(self, retriever):
        self._retriever = retriever

    @classmethod
    def build(cls, texts: list[str]) -> "BM25Index":
        import bm25s

        retriever = bm25s.BM25()
        corpus = [tokenize(t) or [""] for t in texts]
        # bm25s cannot save an index of nothing; a placeholder keeps an empty corpus buildable
        # (scores() returns an empty array for zero chunks, so it is never seen).
        retriever.index(corpus or [[""]], show_progress=False)
        return cls(retriever)

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=False, allow_pickle=False))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), allow_pickle=False)

    def scores(self, query: str, size: int) -> np.ndarray:
        """A BM25 score for each of the `size` chunks (zeros when no query word is in the index)."""
        tokens = tokenize(query)
        vocab = getattr(self._retriever, "vocab_dict", None) or {}
        # Each distinct word counts once: long questions repeat common words, which would drown rare ones.
        ids = [vocab[t] for t in dict.fromkeys(tokens) if t in vocab]
        if not ids or size == 0:
            return np.zeros(size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores_from_ids(ids), dtype=np.float32)
