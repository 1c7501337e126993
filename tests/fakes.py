"""The fake embedder the tests use: a tiny deterministic bag of words, registered for model names "hashing-N".

conftest imports this module, and sets KB_EMBEDDER_PLUGIN=fakes (with this folder on PYTHONPATH) so a `kb`
subprocess registers it too. The library ships no fake.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from kb.models.embedders import register

PREFIX = "hashing-"


class HashingEmbedder:
    """Each word hashed into one of `dimension` buckets, L2-normalized: fast, and words in common mean similar."""

    max_seq_length = 512

    def __init__(self, dimension: int = 64):
        self.dimension = dimension
        self.name = f"{PREFIX}{dimension}"
        self.calls: list[int] = []  # batch sizes, so tests can see what was embedded

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension
                out[row, bucket] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


def hashing_embedder(model: str) -> HashingEmbedder:
    """'hashing-32' -> a 32-dimensional fake ('hashing-' alone: 64)."""
    return HashingEmbedder(int(model[len(PREFIX) :] or 64))


register(PREFIX, hashing_embedder)
