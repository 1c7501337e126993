"""The one abstention decision: a refused question is never answered, a crisis article always is, and otherwise
the best passage's similarity in meaning must reach the bar (lower for questions in French)."""

from __future__ import annotations

import pytest

from kb.answering.decide import best_dense, decide, is_relevant
from kb.records import Chunk, Hit, Query, Retrieval


def hit(dense: float | None, n: int = 0) -> Hit:
    chunk = Chunk(id=f"doc#{n}", doc_id="doc", ordinal=n, text="Some text.", section="S", start=0, end=10)
    return Hit(rank=n + 1, chunk=chunk, score=0.5, title="T", topics=[], audience="public", url="", dense_score=dense)


def query(language: str = "en", refusal: str | None = None) -> Query:
    return Query(text="a question", language=language, retrieval_text="a question", refusal=refusal)


def test_relevant_when_the_best_dense_score_reaches_the_threshold():
    hits = [hit(0.2), hit(0.5, 1)]
    assert is_relevant(hits, 0.5)
    assert is_relevant(hits, 0.35)
    assert not is_relevant(hits, 0.51)


def test_not_relevant_without_hits_or_dense_scores():
    assert not is_relevant([], 0.0)
    assert not is_relevant([hit(None)], 0.0)  # a BM25-only hit says nothing about meaning
    assert best_dense([hit(None)]) is None


def test_a_dense_score_of_exactly_zero_counts_as_zero():
    assert is_relevant([hit(0.0)], 0.0)
    assert not is_relevant([hit(0.0)], 0.01)


@pytest.mark.parametrize(
    ("q", "retrieval", "answer", "reason"),
    [
        (query(), Retrieval([hit(0.4)]), True, "relevant"),
        (query(), Retrieval([hit(0.2)]), False, "below-threshold"),
        (query(), Retrieval([]), False, "no-passages"),
        (query("fr"), Retrieval([hit(0.2)]), True, "relevant"),  # the lenient bar for other languages
        (query(refusal="We can't advise on medication."), Retrieval([hit(0.9)]), False, "refused"),
        (query(), Retrieval([hit(0.05)], crisis_article=True), True, "crisis-article"),
    ],
)
def test_the_decision_and_its_reason(q, retrieval, answer, reason):
    decision = decide(q, retrieval, below=0.3, below_other_language=0.1)
    assert (decision.answer, decision.abstain, decision.reason) == (answer, not answer, reason)
    assert decision.threshold == (0.1 if q.french else 0.3)


def test_a_question_about_none_of_our_topics_abstains_even_when_passages_share_its_words():
    hits = Retrieval([hit(0.45)])
    decision = decide(query(), hits, 0.29, 0.10, topic_similarity=0.12, topic_below=0.15)
    assert decision.abstain and decision.reason == "off-topic"
    assert decide(query(), hits, 0.29, 0.10, topic_similarity=0.2, topic_below=0.15).answer
    assert decide(query(), hits, 0.29, 0.10).answer  # no topic similarity (another model): passages decide


def test_a_question_a_heading_asks_is_answered_whatever_its_topic_similarity():
    decision = decide(query(), Retrieval([hit(0.3)], faq=True), 0.29, 0.10, topic_similarity=0.0, topic_below=0.15)
    assert decision.answer and decision.reason == "faq"
    refused = decide(query(refusal="no"), Retrieval([hit(0.9)], faq=True), 0.29, 0.10)
    assert refused.abstain and refused.reason == "refused"


def test_a_passage_on_a_theme_the_question_never_raised_does_not_make_it_answerable():
    chunk = Chunk(
        id="d#0",
        doc_id="d",
        ordinal=0,
        text="Take it seriously.",
        section="What if my friend wants to die?",
        start=0,
        end=18,
    )
    close = Hit(
        rank=1, chunk=chunk, score=0.5, title="Questions", topics=[], audience="public", url="", dense_score=0.4
    )
    linux = Query(text="how do I kill a process in Linux", language="en", retrieval_text="how do I kill a process")
    assert decide(linux, Retrieval([close, hit(0.2, 1)]), 0.29, 0.10).reason == "below-threshold"
    friend = Query(text="my friend says she wants to die", language="en", retrieval_text="my friend says")
    assert decide(friend, Retrieval([close, hit(0.2, 1)]), 0.29, 0.10).reason == "relevant"
