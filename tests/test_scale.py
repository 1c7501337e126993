"""Search that costs what the answer needs: top-N retrievers, their fused union, filters, the synthetic scale bench."""

from __future__ import annotations

import numpy as np
import pytest

from kb.config import Settings
from kb.evaluation.scale import SyntheticChunks, synthetic_bm25, synthetic_index
from kb.index.build import build_index
from kb.index.store import load_index
from kb.retrieval import bm25 as bm25_module
from kb.retrieval import dense as dense_module
from kb.retrieval.bm25 import BM25Index
from kb.retrieval.filters import ChunkFilters
from kb.retrieval.searcher import Searcher

from conftest import make_corpus
from fakes import HashingEmbedder

QUESTIONS = [
    "transference feelings from a parent",
    "nightmare at work",
    "anger in the session",
    "sleep",
    "a manager's brief email",
    "dreams borrow images",
    "old hurt comforting",
    "curious rather than defensive",
    "xylophone quasar",
    "strict parent boss relationships in love",
]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The three-article test corpus in small chunks, with the fake embedder (built once, read only)."""
    root = tmp_path_factory.mktemp("scale")
    settings = Settings(corpus=make_corpus(root / "corpus"), index=root / "index", model="hashing-64", max_tokens=40)
    build_index(settings, HashingEmbedder(64))
    return settings


@pytest.fixture(scope="module")
def base(small):
    return load_index(small.index)


def ids(hits):
    return [h.chunk.id for h in hits]


def exact(searcher: Searcher, query: str, k: int, mode: str = "hybrid", **filters) -> list[str]:
    """The reference: every chunk scored, then fused (what search did before top-N pools)."""
    per_doc = filters.pop("max_per_doc", None)
    dense, bm25 = searcher.scores(query)
    return ids(searcher.rank(dense, bm25, k, mode, searcher.mask(**filters), max_per_doc=per_doc))


# --- BM25 top-N ---------------------------------------------------------------------------------


def test_synthetic_bm25_weights_are_bm25s_weights(base):
    texts = [c.embed_text for c in base.chunks]
    ours = synthetic_bm25(texts, len(texts), np.random.default_rng(0))  # no replicas: the texts themselves
    theirs = BM25Index.build(texts)
    for query in QUESTIONS:
        expected = theirs.scores(query, len(texts))
        got = ours.scores(query, len(texts))
        assert np.allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_lexical_top_n_equals_scoring_every_chunk_when_words_fit_the_budget(base):
    index = synthetic_bm25([c.embed_text for c in base.chunks], 3000, np.random.default_rng(1))
    for query in QUESTIONS:
        full = index.scores(query, 3000)
        for n in (1, 5, 40):
            top = index.top(index.query_ids(query), n)
            expected = np.sort(full[full > 0])[::-1][:n]
            assert np.array_equal(top.scores, expected), query
            assert top.exact


def test_a_common_word_past_the_budget_gives_exact_scores_and_a_bound(base, monkeypatch):
    monkeypatch.setattr(bm25_module, "POSTING_BUDGET", 40)
    index = synthetic_bm25([c.embed_text for c in base.chunks], 3000, np.random.default_rng(1))
    ids = index.query_ids("transference parent relationships feelings")
    top = index.top(ids, 20)
    assert not top.exact and top.floor > 0
    assert np.allclose(top.scores, index.scores_of(ids, top.positions))  # the scores are exact, the list may not be


def test_a_query_without_indexed_words_finds_nothing(base):
    assert len(base.bm25.top(base.bm25.query_ids("xylophone quasar"), 10).positions) == 0


# --- Fused search against scoring every chunk ------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_search_over_top_n_pools_gives_the_hits_of_scoring_every_chunk(base, small, mode):
    searcher = Searcher(base, HashingEmbedder(64), small.replace(candidates=3))  # tiny pools: deepening must happen
    for query in QUESTIONS:
        for k, per_doc in ((3, None), (8, 0), (10, 1)):
            assert ids(searcher.search(query, k=k, mode=mode, max_per_doc=per_doc)) == exact(
                searcher, query, k, mode, max_per_doc=per_doc
            ), (query, k, per_doc)


def test_filtered_search_gives_the_hits_of_scoring_every_chunk(base, small):
    searcher = Searcher(base, HashingEmbedder(64), small.replace(candidates=2))
    cases = [
        {"topics": ["sleep"]},
        {"topics": ["sleep", "anger"]},
        {"audience": "clinician"},
        {"audience": "public", "topics": ["anger"]},
        {"documents": ["transference-basics"]},
        {"documents": ["sleep-and-dreams", "anger-for-clinicians"], "topics": ["anger"]},
    ]
    for query in QUESTIONS:
        for filters in cases:
            assert ids(searcher.search(query, k=5, **filters)) == exact(searcher, query, 5, **filters), filters


def test_rrf_search_matches_rank_fusion_of_every_chunk(base, small):
    searcher = Searcher(base, HashingEmbedder(64), small.replace(fusion="rrf", candidates=6))
    for query in QUESTIONS:
        assert ids(searcher.search(query, k=5)) == exact(searcher, query, 5)
        assert ids(searcher.search(query, k=5, topics=["sleep"])) == exact(searcher, query, 5, topics=["sleep"])


def test_an_ivf_index_searched_through_all_its_cells_finds_the_exact_neighbours(base, small, monkeypatch):
    monkeypatch.setattr(dense_module, "APPROXIMATE_ABOVE", 10)
    monkeypatch.setattr(dense_module, "NPROBE", 10_000)  # every cell: the result must then be exact
    ivf = dense_module.build_dense_index(base.vectors, base.vectors.shape[1])
    assert type(ivf).__name__ == "IndexIVFFlat"
    flat = Searcher(base, HashingEmbedder(64), small)
    index = load_index(small.index)
    index.dense, index.vectors = ivf, None  # the searcher reads vectors back from FAISS
    searcher = Searcher(index, HashingEmbedder(64), small)
    for query in QUESTIONS:
        assert ids(searcher.search(query, k=6, mode="dense", max_per_doc=0)) == ids(
            flat.search(query, k=6, mode="dense", max_per_doc=0)
        )
        assert ids(searcher.search(query, k=4, topics=["sleep"])) == ids(flat.search(query, k=4, topics=["sleep"]))


def test_an_ivf_index_of_many_near_duplicates_keeps_recall(base, small, monkeypatch):
    monkeypatch.setattr(dense_module, "APPROXIMATE_ABOVE", 1000)
    index = synthetic_index(base, max(1500, 40 * len(base.chunks)))
    assert type(index.dense).__name__ == "IndexIVFFlat" and index.dense.nprobe < index.dense.nlist
    searcher = Searcher(index, HashingEmbedder(64), small)
    recall = []
    for query in QUESTIONS:
        truth = exact(searcher, query, 10)
        recall.append(len(set(ids(searcher.search(query, k=10))) & set(truth)) / max(1, len(truth)))
    assert np.mean(recall) >= 0.9


class CountingChunks(list):
    """The index's chunk list, counting reads after the searcher was built."""

    reads = 0
    iterated = False

    def __getitem__(self, i):
        CountingChunks.reads += 1
        return super().__getitem__(i)

    def __iter__(self):
        CountingChunks.iterated = True
        return super().__iter__()


def test_a_question_reads_only_the_chunks_it_returns_or_passes_over(small, base):
    index = load_index(small.index)
    searcher = Searcher(index, HashingEmbedder(64), small)
    index.chunks = CountingChunks(index.chunks)  # after set-up: filters and pools are arrays
    CountingChunks.reads, CountingChunks.iterated = 0, False
    hits = searcher.search("nightmare at work", k=2, topics=["sleep", "transference-and-relationship"])
    assert hits and not CountingChunks.iterated
    assert CountingChunks.reads <= 2 * len(hits) + 2 < len(index.chunks)


# --- Filters --------------------------------------------------------------------------------------


def test_filter_bitmaps_select_what_a_loop_over_chunks_would(base):
    filters = ChunkFilters(base.documents, base.chunks)
    docs = base.documents
    for topics, audience, documents in [
        (["sleep"], None, None),
        (["sleep", "anger"], None, None),
        (None, "clinician", None),
        (["anger"], "public", None),
        (None, None, ["sleep-and-dreams"]),
        (["no-such-topic"], None, None),
        (["sleep"], None, ["sleep-and-dreams", "transference-basics"]),
    ]:
        expected = [
            (not topics or bool(set(docs[c.doc_id].topics) & set(topics)))
            and (not audience or docs[c.doc_id].audience == audience)
            and (not documents or c.doc_id in documents)
            for c in base.chunks
        ]
        selection = filters.select(topics, audience, documents)
        assert filters.mask(selection).tolist() == expected
        assert selection.count == sum(expected)
        assert selection.positions is None or selection.positions.tolist() == np.flatnonzero(expected).tolist()


# --- The synthetic index of `kb bench scale` -----------------------------------------------------------


def test_synthetic_chunks_repeat_the_corpus_with_their_own_ids(base):
    chunks = SyntheticChunks(base.chunks, 3 * len(base.chunks) + 1)
    n = len(base.chunks)
    assert chunks[0] is base.chunks[0]
    copy = chunks[n + 2]
    assert copy.id == f"{base.chunks[2].id}~1" and copy.doc_id == f"{base.chunks[2].doc_id}~1"
    assert sorted(copy.text.split()) == sorted(base.chunks[2].text.split())
    assert list(chunks.doc_ids)[n + 2] == copy.doc_id and len(list(chunks.doc_ids)) == len(chunks)
    with pytest.raises(IndexError):
        chunks[len(chunks)]


def test_a_synthetic_index_searches_like_a_real_one(base, small):
    index = synthetic_index(base, 5 * len(base.chunks) + 3)
    searcher = Searcher(index, HashingEmbedder(64), small)
    assert len(index.documents) == 6 * len(base.documents)
    for query in QUESTIONS[:5]:
        hits = searcher.search(query, k=5)
        assert ids(hits) == exact(searcher, query, 5)
        assert all(h.chunk.doc_id.split("~")[0] in base.documents for h in hits)
    sleepy = searcher.search("dreams", k=5, topics=["sleep"])
    assert sleepy and {h.chunk.doc_id.split("~")[0] for h in sleepy} == {"sleep-and-dreams"}


# --- Large-index paths: best postings first, rows, IVF with filters ------------------------------------


def test_putting_long_columns_best_first_changes_no_score(base):
    index = synthetic_bm25([c.embed_text for c in base.chunks], 3000, np.random.default_rng(2))
    before = {query: index.scores(query, 3000) for query in QUESTIONS}
    index.prepare()
    for query in QUESTIONS:
        assert np.array_equal(index.scores(query, 3000), before[query]), query
        positions = np.arange(0, 3000, 7)
        assert np.array_equal(index.scores_of(index.query_ids(query), positions), before[query][positions])
        assert np.allclose(index.sums_of(index.query_ids(query), positions), before[query][positions], rtol=1e-6)


def test_a_question_past_the_posting_budget_reads_at_most_the_budget(base, monkeypatch):
    monkeypatch.setattr(bm25_module, "POSTING_BUDGET", 500)
    index = synthetic_bm25([c.embed_text for c in base.chunks], 3000, np.random.default_rng(1))
    ids = index.query_ids("strict parent boss relationships in love transference feelings anger sleep")
    lengths = np.diff(index._indptr)[ids]
    assert lengths.sum() > 500
    scan = index.scan(ids)
    assert 0 < len(scan.everything) <= 500 + bm25_module.SAMPLE * len(ids) and scan.bound > 0
    full = index.scores("strict parent boss relationships in love transference feelings anger sleep", 3000)
    assert np.all(full[scan.everything] >= scan.partial[scan.everything] - 1e-6)  # sums read are lower bounds
    assert np.all(full <= scan.partial + scan.bound + 1e-5)  # and the bound covers what was not read


@pytest.fixture()
def ivf(base, small, monkeypatch):
    """A synthetic index large enough for IVF (threshold lowered), searched as a large index is."""
    monkeypatch.setattr(dense_module, "APPROXIMATE_ABOVE", 1000)
    index = synthetic_index(base, max(1500, 40 * len(base.chunks)))
    assert type(index.dense).__name__ == "IndexIVFFlat" and index.dense.nprobe < index.dense.nlist
    return Searcher(index, HashingEmbedder(64), small)


def test_filtered_search_on_an_ivf_index_returns_only_allowed_chunks_and_keeps_recall(ivf):
    docs = ivf.index.documents
    recall = []
    for query in QUESTIONS:
        for filters in ({"topics": ["sleep"]}, {"audience": "clinician"}, {"topics": ["sleep", "anger"]}):
            hits = ivf.search(query, k=10, **filters)
            for hit in hits:
                doc = docs[hit.chunk.doc_id]
                assert "topics" not in filters or set(doc.topics) & set(filters["topics"])
                assert "audience" not in filters or doc.audience == filters["audience"]
            truth = exact(ivf, query, 10, **filters)
            assert truth
            recall.append(len(set(ids(hits)) & set(truth)) / len(truth))
    assert np.mean(recall) >= 0.9


def test_a_filter_widens_the_ivf_cells_searched_in_proportion(ivf):
    dense = ivf.dense
    dense.index.nprobe = 2  # of 37 cells, the nearest of which hold none of the filter's chunks
    vector = ivf._vector("dreams at night", None)
    selection = ivf.filters.select(["anger"])  # far from the question: few of its chunks in the nearest cells
    assert 0 < selection.count < len(dense) // 2
    plain = dense.top(vector, 50)
    filtered = dense.top(vector, 50, selection.bitmap)
    assert selection.allows(filtered.positions).all()
    assert len(filtered.positions) == 50  # a filter far from the question still fills its top (more cells searched)
    assert np.isfinite(plain.floor) and np.isfinite(filtered.floor)


def test_best_first_orders_as_a_stable_sort_with_ties_by_position():
    rng = np.random.default_rng(3)
    for _ in range(500):
        n = int(rng.integers(1, 80))
        scores = rng.integers(0, 6, n).astype(np.float32)  # many ties
        scores[rng.random(n) < 0.2] = -np.inf
        positions = rng.choice(10_000, n, replace=False)
        assert dense_module.best_first(scores, positions).tolist() == np.lexsort((positions, -scores)).tolist()


def test_a_deep_ivf_top_is_the_best_of_every_vector_in_its_cells(ivf):
    import faiss

    dense = ivf.dense
    vector = ivf._vector("dreams at night", None)
    top = dense.top(vector, 300, probe=4)
    params = faiss.SearchParametersIVF()
    params.nprobe = 4
    scores, found = dense.index.search(vector.reshape(1, -1), 300, params=params)
    assert np.allclose(top.scores, scores[0][found[0] >= 0])  # what FAISS's own heap of 300 returns
    assert set(top.positions.tolist()) == set(found[0][found[0] >= 0].tolist())
    assert np.all(np.diff(top.scores) <= 0) and top.floor == top.scores[-1]


def test_inner_products_on_one_thread_are_the_matrix_vector_product():
    rng = np.random.default_rng(4)
    rows, vector = rng.normal(size=(300, 64)).astype(np.float32), rng.normal(size=64).astype(np.float32)
    assert np.allclose(dense_module.inner_products(rows, vector), rows @ vector, rtol=1e-5, atol=1e-5)
    assert dense_module.inner_products(rows[:0], vector).shape == (0,)


def test_the_best_sums_past_the_budget_are_lower_bounds_with_an_exact_head(base, monkeypatch):
    monkeypatch.setattr(bm25_module, "POSTING_BUDGET", 500)
    index = synthetic_bm25([c.embed_text for c in base.chunks], 3000, np.random.default_rng(1))
    query = "strict parent boss relationships in love transference feelings anger sleep"
    scan = index.scan(index.query_ids(query))
    assert scan.bound > 0
    full = index.scores(query, 3000)
    top = scan.by_sums(40, 10)
    assert not top.exact and len(top.positions) == 40
    assert np.all(np.diff(top.scores) <= 0)  # best first
    assert np.all(top.scores <= full[top.positions] + 1e-5)  # each a lower bound of its score
    outside = np.setdiff1d(scan.seen, top.positions)
    assert scan.partial[top.positions].min() >= scan.partial[outside].max()  # the 40 best sums
    head = np.argsort(-scan.partial[top.positions], kind="stable")[:10]
    assert np.isclose(top.scores[0], full[top.positions[head]].max(), rtol=1e-5)  # the head is scored exactly
    nth = top.positions[np.argmin(scan.partial[top.positions])]
    assert np.isclose(top.floor, full[nth], rtol=1e-5)  # the exact score of the 40th best sum
