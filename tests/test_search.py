"""Searching an index: dense, BM25 and fused modes, filters, per-document diversity and reranking."""

from __future__ import annotations

import numpy as np
import pytest

from kb.config import Settings
from kb.errors import IndexMismatchError, InputError
from kb.index.build import build_index
from kb.index.store import load_index
from kb.knowledge_base import KnowledgeBase
from kb.retrieval.bm25 import tokenize
from kb.retrieval.searcher import Searcher, article_url, fuse_convex, fuse_rrf

from conftest import make_corpus
from fakes import HashingEmbedder

QUERY = "transference feelings from a parent in relationships"


@pytest.fixture(scope="module")
def small_chunks(tmp_path_factory):
    """The test corpus with a small chunk budget, so each article has several chunks (built once: read only)."""
    root = tmp_path_factory.mktemp("search")
    return Settings(corpus=make_corpus(root / "corpus"), index=root / "index", model="hashing-64", max_tokens=48)


@pytest.fixture(scope="module")
def index(small_chunks):
    build_index(small_chunks, HashingEmbedder(64))
    return load_index(small_chunks.index)


@pytest.fixture
def searcher(index, embedder, small_chunks):
    return Searcher(index, embedder, small_chunks)


class ReverseReranker:
    """A fake cross-encoder that prefers whatever the fusion put last."""

    def __init__(self):
        self.calls = []

    def score(self, query, passages):
        self.calls.append((query, list(passages)))
        return [float(i) for i in range(len(passages))]


def doc_ids(hits):
    return [h.chunk.doc_id for h in hits]


# Fusion functions


def test_rrf_adds_reciprocal_ranks():
    fused = fuse_rrf([np.array([0, 1, 2]), np.array([2, 0])], k=60)
    assert fused == pytest.approx({0: 1 / 61 + 1 / 62, 1: 1 / 62, 2: 1 / 63 + 1 / 61})
    assert max(fused, key=fused.get) == 0


def test_rrf_smaller_k_rewards_the_top_more():
    top_heavy = fuse_rrf([np.array([0, 1])], k=1)
    flat = fuse_rrf([np.array([0, 1])], k=100)
    assert top_heavy[0] / top_heavy[1] > flat[0] / flat[1]


def test_convex_weights_cosine_and_scaled_bm25():
    fused = fuse_convex(np.array([0.5, 0.1, 0.9]), np.array([2.0, 4.0, 0.0]), weight=0.8)
    assert fused == pytest.approx([0.8 * 0.5 + 0.2 * 0.5, 0.8 * 0.1 + 0.2 * 1.0, 0.8 * 0.9])


def test_convex_without_any_bm25_match_is_scaled_cosine():
    fused = fuse_convex(np.array([0.3, 0.6]), np.zeros(2), weight=0.7)
    assert fused == pytest.approx([0.21, 0.42])


def test_bm25_tokens_are_stemmed_without_stopwords():
    assert tokenize("The dreams and the running") == ["dream", "run"]


# Modes


def test_bm25_mode_returns_only_chunks_sharing_a_word(searcher):
    hits = searcher.search("nightmare", k=10, mode="bm25")
    assert hits and all("nightmare" in h.chunk.text.lower() for h in hits)
    assert doc_ids(hits)[0] == "sleep-and-dreams"
    assert searcher.search("xylophone quasar", mode="bm25") == []


def test_dense_mode_ranks_by_cosine(searcher):
    hits = searcher.search(QUERY, k=6, mode="dense", max_per_doc=0)
    assert [h.score for h in hits] == [h.dense_score for h in hits]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].chunk.doc_id == "transference-basics"


def test_convex_hybrid_scores_follow_the_formula(searcher, small_chunks):
    dense, bm25 = searcher.scores(QUERY)
    hits = searcher.search(QUERY, k=5, mode="hybrid", max_per_doc=0)
    for hit in hits:
        expected = 0.8 * hit.dense_score + 0.2 * hit.bm25_score / bm25.max()
        assert hit.score == pytest.approx(expected, rel=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_rrf_hybrid_uses_rank_fusion(index, embedder, small_chunks):
    searcher = Searcher(index, embedder, small_chunks.replace(fusion="rrf"))
    dense, bm25 = searcher.scores(QUERY)
    expected = fuse_rrf([np.argsort(-dense, kind="stable"), np.argsort(-bm25, kind="stable")], k=60)
    hits = searcher.search(QUERY, k=4, mode="hybrid", max_per_doc=0)
    positions = {c.id: i for i, c in enumerate(index.chunks)}
    assert [h.score for h in hits] == pytest.approx([expected[positions[h.chunk.id]] for h in hits])
    assert hits[0].score == pytest.approx(max(expected.values()))


def test_hybrid_differs_from_either_mode_alone(searcher):
    query = "nightmare at work with colleagues"
    orders = {
        mode: [h.chunk.id for h in searcher.search(query, k=5, mode=mode, max_per_doc=0)]
        for mode in ("hybrid", "dense", "bm25")
    }
    assert orders["hybrid"] != orders["dense"] or orders["hybrid"] != orders["bm25"]


def test_hits_carry_document_details_and_a_link(searcher):
    hit = searcher.search("nightmare", k=1)[0]
    assert hit.rank == 1
    assert hit.title == "Sleep and dreams" and hit.topics == ["sleep"] and hit.audience == "public"
    assert hit.url == article_url("sleep-and-dreams", hit.chunk.section)
    assert hit.to_json()["doc_id"] == "sleep-and-dreams"


def test_article_url_escapes_ids_and_sections():
    assert article_url("guides/panic") == "/library?doc=guides%2Fpanic"
    assert article_url("x", "In life > At work") == "/library?doc=x&section=In%20life%20%3E%20At%20work"


def test_k_limits_results_and_ranks_count_from_one(searcher):
    hits = searcher.search(QUERY, k=3, max_per_doc=0)
    assert [h.rank for h in hits] == [1, 2, 3]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"query": "sleep", "mode": "fuzzy"}, "mode 'fuzzy'"),
        ({"query": "   "}, "query is empty"),
        ({"query": "sleep", "k": 0}, "k must be at least 1"),
    ],
)
def test_bad_search_requests_raise_input_errors(searcher, kwargs, message):
    with pytest.raises(InputError, match=message):
        searcher.search(**kwargs)


# Diversity


def test_at_most_two_passages_per_document_by_default(searcher, index):
    per_doc = {}
    for chunk in index.chunks:
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
    assert per_doc["transference-basics"] > 2  # the limit has something to do
    for mode in ("hybrid", "dense", "bm25"):
        hits = searcher.search("transference", k=10, mode=mode)
        ids = doc_ids(hits)
        assert max(ids.count(d) for d in set(ids)) <= 2, mode
    unlimited = doc_ids(searcher.search("transference", k=10, mode="bm25", max_per_doc=0))
    assert unlimited.count("transference-basics") > 2


def test_max_per_doc_of_one_gives_distinct_documents(searcher):
    ids = doc_ids(searcher.search(QUERY, k=10, max_per_doc=1))
    assert len(ids) == len(set(ids)) == 3


# Filters


def test_topic_filter_keeps_only_matching_articles(searcher):
    assert set(doc_ids(searcher.search(QUERY, k=10, topics=["sleep"]))) == {"sleep-and-dreams"}
    assert set(doc_ids(searcher.search(QUERY, k=10, topics=["sleep", "anger"]))) == {
        "sleep-and-dreams",
        "anger-for-clinicians",
    }
    assert searcher.search(QUERY, topics=["no-such-topic"]) == []


def test_audience_filter(searcher):
    assert set(doc_ids(searcher.search(QUERY, k=10, audience="clinician"))) == {"anger-for-clinicians"}
    assert "anger-for-clinicians" not in doc_ids(searcher.search(QUERY, k=10, audience="public"))


def test_filters_combine(searcher):
    assert searcher.search(QUERY, k=10, topics=["sleep"], audience="clinician") == []


# Reranking


def test_a_reranker_reorders_hybrid_results(index, embedder, small_chunks):
    plain = Searcher(index, embedder, small_chunks)
    reranker = ReverseReranker()
    reranked = Searcher(index, embedder, small_chunks, reranker)
    everything = [h.chunk.id for h in plain.search(QUERY, k=100, max_per_doc=0)]
    top = [h.chunk.id for h in reranked.search(QUERY, k=5, max_per_doc=0)]
    assert len(everything) > 5
    assert top == everything[::-1][:5]
    query, passages = reranker.calls[0]
    assert query == QUERY and len(passages) == len(everything)


def test_reranker_scores_become_hit_scores(index, embedder, small_chunks):
    hits = Searcher(index, embedder, small_chunks, ReverseReranker()).search(QUERY, k=3, max_per_doc=0)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score == float(len(index.chunks) - 1)


def test_reranker_only_applies_to_hybrid(index, embedder, small_chunks):
    reranker = ReverseReranker()
    plain = Searcher(index, embedder, small_chunks)
    reranked = Searcher(index, embedder, small_chunks, reranker)
    for mode in ("dense", "bm25"):
        assert [h.chunk.id for h in reranked.search("transference", k=5, mode=mode)] == [
            h.chunk.id for h in plain.search("transference", k=5, mode=mode)
        ]
    assert reranker.calls == []


# The KnowledgeBase front door


def test_knowledge_base_loads_the_index_once_and_searches(settings, embedder):
    build_index(settings, embedder)
    kb = KnowledgeBase(settings)
    hits = kb.search("nightmare", k=2, mode="bm25")
    assert doc_ids(hits) == ["sleep-and-dreams"]
    assert kb.index is kb.index and kb.embedder.name == "hashing-64"


def test_knowledge_base_refuses_an_index_built_with_another_model(settings, embedder):
    build_index(settings, embedder)
    with pytest.raises(IndexMismatchError, match="kb index --full"):
        KnowledgeBase(settings.replace(model="hashing-32")).search("sleep")
