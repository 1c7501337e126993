"""Embedders: which loader a model folder gets, stored-vector lookup, and agreement with sentence-transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kb.config import Settings
from kb.models.embedders import (
    MEAN_POOLING_PIPELINE,
    KnownVectors,
    MeanPoolingEmbedder,
    SentenceEmbedder,
    bundled_model_path,
    embed_key,
    embed_known,
    load_embedder,
    mean_pooling_config,
)

from fakes import HashingEmbedder


def model_folder(root: Path, modules=None, pooling=None, config=None) -> Path:
    """The files sentence-transformers reads to decide a model's pipeline (no weights needed)."""
    root.mkdir(parents=True, exist_ok=True)
    modules = (
        modules
        if modules is not None
        else [
            {"idx": i, "name": str(i), "path": path, "type": kind}
            for i, (path, kind) in enumerate(zip(["", "1_Pooling", "2_Normalize"], MEAN_POOLING_PIPELINE, strict=True))
        ]
    )
    (root / "modules.json").write_text(json.dumps(modules))
    (root / "1_Pooling").mkdir(exist_ok=True)
    (root / "1_Pooling" / "config.json").write_text(
        json.dumps(
            pooling
            if pooling is not None
            else {
                "word_embedding_dimension": 384,
                "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False,
            }
        )
    )
    (root / "sentence_bert_config.json").write_text(
        json.dumps(config if config is not None else {"max_seq_length": 256, "do_lower_case": False})
    )
    return root


def test_a_mean_pooling_model_is_recognised(tmp_path):
    assert mean_pooling_config(str(model_folder(tmp_path / "m"))) == 256


@pytest.mark.parametrize(
    "change",
    [
        {"pooling": {"pooling_mode_cls_token": True}},
        {"pooling": {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}},
        {"config": {"max_seq_length": 256, "do_lower_case": True}},
        {"config": {"do_lower_case": False}},
        {
            "modules": [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
            ]
        },
        {
            "modules": [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        },
    ],
)
def test_any_other_pipeline_is_left_to_sentence_transformers(tmp_path, change):
    assert mean_pooling_config(str(model_folder(tmp_path / "m", **change))) is None


@pytest.mark.parametrize("damage", ["modules.json", "sentence_bert_config.json", "1_Pooling/config.json"])
def test_a_folder_with_missing_or_broken_files_is_left_to_sentence_transformers(tmp_path, damage):
    folder = model_folder(tmp_path / "m")
    (folder / damage).write_text("{not json")
    assert mean_pooling_config(str(folder)) is None
    (folder / damage).unlink()
    assert mean_pooling_config(str(folder)) is None


def test_known_vectors_pass_the_model_facts_through():
    inner = HashingEmbedder(32)
    known = KnownVectors(inner, {embed_key(inner.name, "stored"): np.ones(32, dtype=np.float32)})
    assert (known.name, known.dimension, known.max_seq_length) == (inner.name, 32, inner.max_seq_length)
    assert known.count_tokens("two words") == 2
    assert np.array_equal(known.embed(["stored"])[0], np.ones(32)) and inner.calls == []
    wrong_size = KnownVectors(inner, {embed_key(inner.name, "stored"): np.ones(8, dtype=np.float32)})
    assert np.allclose(wrong_size.embed(["stored"]), inner.embed(["stored"]))  # a stale vector is not used
    assert known.embed([]).shape == (0, 32)


def test_a_build_embeds_in_calls_of_about_one_length_each_and_every_vector_lands_on_its_text():
    # Calls of texts in corpus order padded each batch to its longest text: 10 % more encoder time than one call.
    class Recording(HashingEmbedder):
        asked: list[list[str]] = []

        def embed(self, texts):
            self.asked.append(list(texts))
            return super().embed(texts)

    inner = Recording(32)
    texts = [("word " * n).strip() for n in (3, 40, 1, 25, 7, 40, 2, 12, 30)]
    cached = {embed_key(inner.name, texts[4]): np.full(32, 0.5, dtype=np.float32)}
    done: list[tuple[int, int]] = []
    vectors, embedded = embed_known(texts, inner, [cached], batch=3, progress=lambda d, t: done.append((d, t)))
    lengths = [[len(t) for t in call] for call in inner.asked]
    assert lengths == [[199, 199, 149], [124, 59, 14], [9, 4]]  # longest first across every call
    assert sorted(embedded) == [0, 1, 2, 3, 5, 6, 7, 8]
    alone = HashingEmbedder(32)
    assert np.array_equal(vectors, np.stack([cached.get(embed_key(inner.name, t), alone.embed([t])[0]) for t in texts]))
    assert done == [(0, 8), (3, 8), (6, 8), (8, 8)]


@pytest.mark.slow
def test_the_bundled_model_runs_on_transformers_and_matches_sentence_transformers(tmp_path):
    fast = load_embedder(Settings(index=tmp_path))  # no ONNX export there (tests/test_onnx.py covers that path)
    assert isinstance(fast, MeanPoolingEmbedder)
    assert mean_pooling_config(str(bundled_model_path())) == fast.max_seq_length == 256
    reference = SentenceEmbedder(Settings().model)
    texts = [
        "why do I keep choosing people who hurt me?",
        "",
        "x",
        "Je me sens vide, même quand tout va bien.",
        "Transference carries feelings from early relationships into new ones. " * 60,  # past 256 tokens
        "Grief\tcomes\nin waves.",
    ]
    ours, theirs = fast.embed(texts), reference.embed(texts)
    assert ours.shape == theirs.shape == (len(texts), 384) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (fast.name, fast.dimension) == (reference.name, reference.dimension)
    for text in texts:
        assert fast.count_tokens(text) == reference.count_tokens(text)
    assert fast.is_word("grief") and not fast.is_word("greif")
    assert np.abs(fast.embed(texts[:1]) - fast.embed(texts[:3])[:1]).max() < 1e-5  # padding changes no vector
    assert fast.embed([]).shape == (0, 384)


@pytest.mark.slow
def test_one_model_serves_many_threads_at_once():
    """The app's sessions share one embedder. A fast tokenizer keeps its padding settings as shared state,
    so without the embedder's lock a token count in one thread breaks a padded batch in another."""
    from concurrent.futures import ThreadPoolExecutor

    model = load_embedder(Settings())
    texts = [("why do I keep choosing people who hurt me? " * (i % 9 + 1)).strip() for i in range(64)]
    expected = model.embed(texts)

    def work(i: int):
        counts = [model.count_tokens(texts[i]) for _ in range(40)] + [model.is_word("grief") for _ in range(10)]
        return i, model.embed([texts[i], texts[-1 - i], texts[i // 2]]), counts

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(work, range(len(texts))))
    for i, vectors, counts in results:
        assert np.abs(vectors - expected[[i, -1 - i, i // 2]]).max() < 1e-5
        assert counts == [model.count_tokens(texts[i])] * 40 + [True] * 10


@pytest.mark.slow
def test_sessions_sharing_one_knowledge_base_get_the_answers_they_would_get_alone(app_index, real_model):
    """What the app does: one KnowledgeBase (st.cache_resource) answering several sessions' questions at once."""
    from concurrent.futures import ThreadPoolExecutor

    from kb.knowledge_base import KnowledgeBase

    kb = KnowledgeBase(app_index, real_model)
    questions = [
        "Why do I keep choosing people who hurt me?",
        "what is transference",
        "I want to end my life",
        "Je me sens vide depuis des mois",
        "how much does therapy cost",
        "best pizza in town",
    ]

    def gist(question: str):
        a = kb.ask(question)
        return (
            a.text,
            [c.chunk_id for c in a.citations],
            [t.id for t in a.therapists],
            a.crisis.detected,
            a.abstained,
            a.topics,
        )

    alone = [gist(q) for q in questions]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(gist, questions * 3))
    assert together == alone * 3
    assert alone[2][3] is True and alone[5][4] is True and alone[0][0]  # a crisis, an abstention, an answer
