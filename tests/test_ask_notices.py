"""Asking: an out-of-scope question abstains with its reason; a typo is fixed and the visitor is told."""

from __future__ import annotations

import pytest

from kb.index.build import build_index
from kb.knowledge_base import KnowledgeBase


@pytest.fixture
def kb(settings, embedder) -> KnowledgeBase:
    build_index(settings, embedder)
    return KnowledgeBase(settings, embedder)


def test_a_medication_dose_question_abstains_with_the_medication_notice(kb):
    answer = kb.ask("what dose of melatonin should I take for better sleep?")
    assert answer.abstained and answer.text is None and answer.citations == []
    assert any("advice about medication" in n for n in answer.notices)


def test_a_typo_is_searched_for_as_the_corpus_word_with_a_notice(kb):
    answer = kb.ask("what is transferense at work?")
    assert "Searched for \u201ctransference\u201d (you typed \u201ctransferense\u201d)." in answer.notices
    assert answer.query == "what is transferense at work?"  # the question is shown as typed


def test_a_long_question_with_a_typo_is_not_echoed_back_whole(kb):
    question = "I keep noticing the same feelings at work and at home, and I wonder what transferense means for me?"
    notices = [n for n in kb.ask(question).notices if n.startswith("Searched for")]
    assert notices == ["Searched for \u201ctransference\u201d (you typed \u201ctransferense\u201d)."]


def test_many_corrected_words_are_counted_never_echoed():
    from kb.knowledge_base import _searched_for

    typed = "i feel anxeity and depresion and lonelyness and sadnes every day"
    searched = "i feel anxiety and depression and loneliness and sadness every day"
    notice = _searched_for(typed, searched)
    assert notice == "Searched with the spelling of 4 words corrected."
    assert "anxiety" not in notice and "every day" not in notice
    assert _searched_for("whats transference", "what's transference") == (
        "Searched for \u201cwhat's\u201d (you typed \u201cwhats\u201d)."
    )
