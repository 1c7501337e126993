"""The bundled model without torch: exported to ONNX once, served by onnxruntime + tokenizers.

Importing torch and transformers is most of a cold start; onnxruntime and tokenizers load in a
fraction of that and encode a short question about twice as fast. The export needs torch, which the
project installs anyway, so it runs at build time (`kb model export`, or `kb index` when the file is
missing) and never while serving.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from kb.errors import KBError

ONNX_FOLDER = "models"  # inside the index root, beside builds/: one export serves every build
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_path(index_root: Path, model: str) -> Path:
    """Where the ONNX export of a model lives for an index folder."""
    return Path(index_root) / ONNX_FOLDER / f"{model.replace('/', '--')}.onnx"


def source_fingerprint(source: Path) -> str:
    """A hash of the model's weights and tokenizer, so an export made from other files is not used."""
    digest = hashlib.sha256()
    for name in ("model.safetensors", "pytorch_model.bin", "tokenizer.json", "config.json"):
        path = source / name
        if path.is_file():
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}\x00".encode())
            with open(path, "rb") as handle:
                digest.update(handle.read(1 << 20))  # the first MiB and the size identify the file
    return digest.hexdigest()[:24]


def export_is_current(path: Path, source: Path) -> bool:
    """Whether path holds an export of exactly this model folder."""
    try:
        info = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return path.is_file() and info.get("fingerprint") == source_fingerprint(source)


def export_onnx(source: Path, path: Path, max_seq_length: int) -> Path:
    """Export Transformer -> mean pooling -> normalize to one ONNX graph (needs torch; build time only).

    Written to a temporary name and renamed, so a reader never sees half a file.
    """
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        bert = AutoModel.from_pretrained(str(source)).to("cpu").eval()
    except Exception as exc:  # many failure types: missing files, bad config
        raise KBError(f"cannot load model from {source} for export: {exc}") from None

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    example = torch.ones((2, 16), dtype=torch.long)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about shapes fixed at export; vectors are tested
            torch.onnx.export(
                Pooled(bert),
                (example, example, torch.zeros_like(example)),
                str(tmp),
                input_names=list(INPUTS),
                output_names=["embedding"],
                dynamic_axes={**dynamic, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        info = {
            "fingerprint": source_fingerprint(source),
            "source": str(source),
            "max_seq_length": max_seq_length,
            "torch": torch.__version__,
        }
        path.with_suffix(".json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise KBError(f"cannot write the ONNX model to {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


class OnnxEmbedder:
    """The mean-pooling model on onnxruntime, tokenized by `tokenizers`: the same vectors, no torch.

    Sessions may share it: onnxruntime runs concurrent calls safely and each call has its own
    encodings, so no lock is held. A question runs on one thread (a short input gains nothing from
    two, and two questions at once then use both cores); batches of passages, at build time, on all.
    """

    BATCH_ABOVE = 4  # texts per call; up to this many run on the one-thread session

    def __init__(
        self, name: str, source: Path, path: Path, max_seq_length: int, batch_size: int = 32, threads: int | None = None
    ):
        from tokenizers import Tokenizer

        self.path = path
        self.threads = threads or min(2, os.cpu_count() or 1)
        try:
            counter = Tokenizer.from_file(str(source / "tokenizer.json"))
            tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
            self._single = self._session(1)
        except Exception as exc:  # onnxruntime and tokenizers raise their own types
            raise KBError(f"cannot load the ONNX model {path}: {exc}; run 'kb model export'") from None
        self._batch = self._single if self.threads == 1 else None
        counter.no_truncation()
        counter.no_padding()
        tokenizer.enable_truncation(max_length=max_seq_length)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._counter, self._tokenizer = counter, tokenizer
        self.name = name
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.dimension = int(self._single.get_outputs()[0].shape[-1] or 384)

    def _session(self, threads: int):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared cores: do not spin
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def is_word(self, word: str) -> bool:
        """Whether the model's vocabulary holds the word whole (a known English word)."""
        return len(self._counter.encode(word, add_special_tokens=False).ids) == 1

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        session = self._single
        if len(texts) > self.BATCH_ABOVE:
            if self._batch is None:
                self._batch = self._session(self.threads)  # made on first use: a server rarely needs it
            session = self._batch
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # little padding per batch
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            encoded = self._tokenizer.encode_batch([texts[i] for i in batch])
            feed = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
            }
            out[batch] = session.run(None, feed)[0]
        return out
