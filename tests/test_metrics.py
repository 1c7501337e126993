"""Retrieval and classification metrics, checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from kb.evaluation.metrics import dedupe, mrr_at, ndcg_at, precision_recall, recall_at, retrieval_summary

LOG3 = math.log2(3)  # the discount at rank 2


def test_dedupe_keeps_each_document_at_its_best_position():
    assert dedupe(["b", "a", "b", "c", "a", "d"]) == ["b", "a", "c", "d"]
    assert dedupe([]) == []


@pytest.mark.parametrize("k, expected", [(1, 0.0), (2, 1 / 3), (4, 2 / 3), (10, 2 / 3)])
def test_recall_is_the_share_of_relevant_documents_in_the_top_k(k, expected):
    assert recall_at(["a", "b", "c", "d"], ["b", "d", "x"], k) == pytest.approx(expected)


def test_recall_without_relevant_documents_is_zero():
    assert recall_at(["a"], [], 5) == 0.0


@pytest.mark.parametrize(
    "ranked, k, expected",
    [
        (["c", "a", "b"], 10, 1.0),
        (["a", "c", "b"], 10, 1 / 2),
        (["a", "b", "c"], 10, 1 / 3),
        (["a", "b", "c"], 2, 0.0),  # first relevant beyond k
        (["a", "b"], 10, 0.0),
    ],
)
def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_document(ranked, k, expected):
    assert mrr_at(ranked, ["c", "x"], k) == pytest.approx(expected)


def test_ndcg_of_a_perfect_ranking_is_one():
    assert ndcg_at(["a", "b", "c"], ["a", "b"]) == pytest.approx(1.0)
    assert ndcg_at(["b", "a"], ["a", "b"], graded=False) == pytest.approx(1.0)  # order does not matter ungraded


def test_graded_ndcg_rewards_the_first_listed_relevant_document_most():
    # gains a=2, b=1; DCG = 1/1 + 2/log2(3); ideal = 2/1 + 1/log2(3)
    expected = (1 + 2 / LOG3) / (2 + 1 / LOG3)
    assert ndcg_at(["b", "a"], ["a", "b"]) == pytest.approx(expected)
    assert expected == pytest.approx(0.8597, abs=1e-4)


def test_ungraded_ndcg_by_hand():
    # a at rank 1, b at rank 3: DCG = 1 + 1/2; ideal = 1 + 1/log2(3)
    assert ndcg_at(["a", "x", "b"], ["a", "b"], graded=False) == pytest.approx(1.5 / (1 + 1 / LOG3))
    assert ndcg_at(["x", "a"], ["a"], graded=False) == pytest.approx(1 / LOG3)


def test_ndcg_only_counts_the_top_k():
    assert ndcg_at(["x", "y", "a"], ["a"], k=2) == 0.0
    assert ndcg_at(["x", "y", "a"], ["a"], k=3) == pytest.approx(1 / 2)


def test_ndcg_with_nothing_relevant_or_nothing_found_is_zero():
    assert ndcg_at(["a"], []) == 0.0
    assert ndcg_at(["x", "y"], ["a"]) == 0.0


def test_retrieval_summary_averages_over_queries():
    runs = [(["a", "b"], ["a"]), (["x", "y"], ["y"]), (["p", "q"], ["z"])]
    summary = retrieval_summary(runs)
    assert summary["queries"] == 3
    assert summary["recall@1"] == pytest.approx(1 / 3)
    assert summary["recall@5"] == pytest.approx(2 / 3)
    assert summary["recall@10"] == pytest.approx(2 / 3)
    assert summary["mrr@10"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert summary["ndcg@10"] == pytest.approx((1 + 1 / LOG3 + 0) / 3)


def test_retrieval_summary_passes_graded_through():
    runs = [(["b", "a"], ["a", "b"])]
    assert retrieval_summary(runs, graded=False)["ndcg@10"] == pytest.approx(1.0)
    assert retrieval_summary(runs)["ndcg@10"] == pytest.approx((1 + 2 / LOG3) / (2 + 1 / LOG3))


def test_retrieval_summary_of_no_queries_is_zero():
    assert retrieval_summary([]) == {
        "recall@1": 0.0,
        "recall@5": 0.0,
        "recall@10": 0.0,
        "mrr@10": 0.0,
        "ndcg@10": 0.0,
        "queries": 0,
    }


def test_precision_and_recall_of_the_positive_class():
    result = precision_recall([True, True, True, False, False], [True, True, False, True, False])
    assert (result["tp"], result["fp"], result["fn"]) == (2, 1, 1)
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(2 / 3)


def test_precision_recall_when_nothing_is_predicted_or_nothing_is_positive():
    nothing_predicted = precision_recall([False, False], [True, False])
    assert nothing_predicted["precision"] == 1.0 and nothing_predicted["recall"] == 0.0
    nothing_positive = precision_recall([True, False], [False, False])
    assert nothing_positive["precision"] == 0.0 and nothing_positive["recall"] == 1.0
