"""What the crisis classifier reads: hashed character n-grams, the rules' verdicts and the sentence embedding.

Character n-grams of the normalised text tolerate typos, slang and French ("thinkin bout killin",
"chu pu capable") without a vocabulary to store: each n-gram is hashed (crc32, stable across runs and
machines) into a fixed number of buckets. Training and serving call the same functions.
"""

from __future__ import annotations

import zlib
from collections import Counter
from functools import lru_cache
from itertools import chain

import numpy as np

from kb.safety.rules import RuleMatch

BUCKETS = 2**18
NGRAMS = (2, 3, 4, 5)
RULE_FEATURES = (
    "hit",
    "hit-medical",
    "hit-suicide",
    "hit-harm-others",
    "hit-child-safety",
    "hit-violence",
    "hit-self-harm",
    "veto-negation",
    "veto-past",
    "veto-general",
    "veto-joking",
    "urgent",
    "someone-else",
    "masked",
)


def char_ngrams(clean: str) -> dict[int, int]:
    """Bucket -> count of the character n-grams of normalised text, words padded with spaces."""
    return Counter(chain.from_iterable(map(_word_buckets, clean.split())))  # counted in C, first-seen order


@lru_cache(maxsize=65_536)  # words repeat across messages and between a message and its sentences
def _word_buckets(word: str) -> tuple[int, ...]:
    padded = f" {word} "
    return tuple(
        zlib.crc32(padded[start : start + n].encode("utf-8")) % BUCKETS
        for n in NGRAMS
        for start in range(max(1, len(padded) - n + 1))
    )


def rule_features(match: RuleMatch) -> np.ndarray:
    """The rules' verdicts as 0/1 features, in RULE_FEATURES order."""
    kinds = {hit.kind for hit in match.hits}
    vetoes = {veto.split(":", 1)[0] for veto in match.vetoes}
    values = [
        bool(match.hits),
        *(kind in kinds for kind in ("medical", "suicide", "harm-others", "child-safety", "violence", "self-harm")),
        "negation" in vetoes,
        "past" in vetoes,
        "general question" in vetoes,
        "joking" in vetoes,
        bool(match.urgent),
        match.someone_else,
        match.masked,
    ]
    return np.asarray(values, dtype=np.float32)


def tfidf(counts: dict[int, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(buckets, weights): sublinear tf times idf, L2-normalised, as a sparse row."""
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    buckets = np.fromiter(counts, dtype=np.int64, count=len(counts))
    weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))) * idf[buckets]
    norm = float(np.linalg.norm(weights))
    return buckets, (weights / norm if norm else weights).astype(np.float32)
