"""The bundled model exported to ONNX: the same vectors as sentence-transformers, and serving without torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kb.config import Settings
from kb.models.embedders import export_model, load_embedder
from kb.models.onnx import export_is_current, onnx_path, source_fingerprint

from conftest import REPO


def fake_model_folder(root: Path, weights: bytes = b"weights") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.safetensors").write_bytes(weights)
    (root / "tokenizer.json").write_text("{}", encoding="utf-8")
    return root


def test_an_export_is_kept_beside_the_index_under_the_model_name(tmp_path):
    assert onnx_path(tmp_path / "index", "all-MiniLM-L6-v2") == tmp_path / "index" / "models" / "all-MiniLM-L6-v2.onnx"
    assert onnx_path(tmp_path, "org/model").name == "org--model.onnx"


def test_an_export_of_other_weights_is_not_current(tmp_path):
    source = fake_model_folder(tmp_path / "model")
    path = onnx_path(tmp_path / "index", "m")
    assert not export_is_current(path, source)  # nothing exported yet
    path.parent.mkdir(parents=True)
    path.write_bytes(b"onnx")
    path.with_suffix(".json").write_text(json.dumps({"fingerprint": source_fingerprint(source)}), encoding="utf-8")
    assert export_is_current(path, source)
    (source / "model.safetensors").write_bytes(b"other weights")
    assert not export_is_current(path, source)


def test_a_damaged_export_record_means_no_export(tmp_path):
    source = fake_model_folder(tmp_path / "model")
    path = onnx_path(tmp_path / "index", "m")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"onnx")
    path.with_suffix(".json").write_text("{not json", encoding="utf-8")
    assert not export_is_current(path, source)


def test_the_fake_model_has_nothing_to_export(tmp_path):
    assert export_model(Settings(index=tmp_path, model="hashing-64")) is None
    assert not (tmp_path / "models").exists()


# --- With the real bundled model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_index(app_index: Settings, tmp_path_factory) -> Settings:
    """A copy of the session's real-model index with the model exported to ONNX beside it."""
    root = tmp_path_factory.mktemp("onnx") / "index"
    shutil.copytree(app_index.index, root)
    settings = app_index.replace(index=root)
    export_model(settings)
    return settings


@pytest.mark.slow
def test_onnx_vectors_match_sentence_transformers(onnx_index):
    from kb.index.store import load_index
    from kb.models.embedders import SentenceEmbedder
    from kb.models.onnx import OnnxEmbedder

    onnx = load_embedder(onnx_index)
    assert isinstance(onnx, OnnxEmbedder)
    chunks = load_index(onnx_index.index).chunks
    texts = [c.embed_text for c in chunks[:: max(1, len(chunks) // 90)]][:90]
    texts += [
        "what is transference",
        "x",
        "",
        "J'ai peur de tout, ça va passer?",
        "why " * 400,
        "I feel empty even though my life is fine",
        "évitement",
        "🙂 sad",
        "a\tb\nc",
        "DEFENCE MECHANISMS",
    ]
    assert len(texts) == 100
    reference = SentenceEmbedder("all-MiniLM-L6-v2").embed(texts)
    vectors = onnx.embed(texts)
    cosine = (vectors * reference).sum(axis=1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() >= 0.9999, f"lowest cosine {cosine.min():.6f} for {texts[int(cosine.argmin())]!r}"
    assert [onnx.count_tokens(t) for t in texts] == [reference_count(t) for t in texts]  # same chunks


def reference_count(text: str) -> int:
    """Tokens of the text as the transformers tokenizer counts them (what chunking used before)."""
    from transformers import AutoTokenizer

    from kb.models.embedders import bundled_model_path

    tokenizer = _TOKENIZERS.setdefault("t", AutoTokenizer.from_pretrained(str(bundled_model_path())))
    return len(tokenizer.encode(text, add_special_tokens=False, verbose=False))


_TOKENIZERS: dict = {}

SERVE_WITHOUT_TORCH = """
import json, sys
from kb.config import load_settings
from kb.knowledge_base import KnowledgeBase
kb = KnowledgeBase(load_settings({{"corpus": {corpus!r}, "index": {index!r}}}))
hits = kb.search("what is transference", k=3)
searched = sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)
answer = kb.ask("why do I keep choosing people who hurt me?")
asked = sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)
print(json.dumps({{"hits": [h.chunk.doc_id for h in hits], "searched": searched, "asked": asked,
                  "embedder": type(kb.embedder).__name__, "answered": not answer.abstained}}))
"""


@pytest.mark.slow
def test_search_and_ask_never_import_torch_when_the_model_is_exported(onnx_index):
    code = SERVE_WITHOUT_TORCH.format(corpus=str(onnx_index.corpus), index=str(onnx_index.index))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["embedder"] == "OnnxEmbedder"
    assert result["hits"] and result["answered"]
    assert result["searched"] == [] and result["asked"] == []


KB_SEARCH = """
import sys
from kb.cli import cli
sys.argv = ["kb", "search", "defence mechanisms", "--json", "--corpus", {corpus!r}, "--index", {index!r}]
try:
    cli(standalone_mode=False)
finally:
    print("TORCH" if "torch" in sys.modules else "NO TORCH")
"""


@pytest.mark.slow
def test_kb_search_command_does_not_import_torch(onnx_index):
    code = KB_SEARCH.format(corpus=str(onnx_index.corpus), index=str(onnx_index.index))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert json.loads(lines[0])["results"]
    assert lines[-1] == "NO TORCH"


@pytest.mark.slow
def test_the_app_serves_on_the_export_beside_its_configured_index(onnx_index):
    from kb.models.onnx import OnnxEmbedder
    from kb.web import views

    assert isinstance(views.embedder(onnx_index), OnnxEmbedder)  # not torch: the export is found
