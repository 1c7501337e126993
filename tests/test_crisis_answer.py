"""A detected suicide or self-harm crisis is answered from the crisis article, whatever the words or filters."""

from __future__ import annotations

import pytest

from kb.answering.compose import is_faithful
from kb.index.build import build_index
from kb.knowledge_base import KnowledgeBase
from kb.validate import validate_corpus

CRISIS_MD = """---
id: crisis-support
title: "If you are in crisis: getting help now"
topics: [crisis]
audience: public
---
# If you are in crisis: getting help now

If you are thinking about suicide, help is available right now. Call or text 9-8-8 at any time.

## What should I do right now?

If you are thinking about ending your life, please reach out to someone now rather than waiting. You can call or \
text 9-8-8, call 911, or go to an emergency department. You do not need to be sure you are "bad enough" to ask for \
help. Feeling overwhelmed, hopeless or unsafe is reason enough. Breathe slowly and notice what is around you.

## After the crisis

Ongoing support can help make future crises less likely.
"""

SUPPORTING_MD = """---
id: supporting-someone-in-crisis
title: When you are worried about someone else
topics: [crisis]
audience: public
---
# When you are worried about someone else

If someone is in immediate danger, call 911. You or they can call or text 9-8-8 at any time for advice. It is \
frightening to worry that someone you care about might be thinking about suicide.

## Should I keep it a secret?

Do not promise to keep thoughts of suicide a secret.
"""

# Shares many words with the questions, so ordinary retrieval would quote it.
DISTRACTOR_MD = """---
id: sleep-and-ending-the-day
title: Ending the day well
topics: [sleep]
audience: public
---
# Ending the day well

I want to end my day calmly. Many people want to kill time before sleep, and end up on their phones. Ending the \
day with a routine helps you want to rest.
"""


def write_files(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


@pytest.fixture
def kb(settings, embedder) -> KnowledgeBase:
    write_files(
        settings.corpus,
        {"articles/crisis.md": CRISIS_MD, "articles/supporting.md": SUPPORTING_MD, "articles/ending.md": DISTRACTOR_MD},
    )
    build_index(settings, embedder)
    return KnowledgeBase(settings, embedder)


LEAD = (
    "If you are thinking about ending your life, please reach out to someone now rather than waiting. [1] "
    "You can call or text 9-8-8, call 911, or go to an emergency department. [1] You do not need to be sure "
    'you are "bad enough" to ask for help. [1] Feeling overwhelmed, hopeless or unsafe is reason enough. [1]'
)


@pytest.mark.parametrize("question", ["I want to kill myself", "I want to end my life tonight", "je veux mourir"])
def test_a_person_in_crisis_gets_the_opening_of_what_to_do_right_now(kb, question):
    answer = kb.ask(question)
    assert answer.crisis.detected and not answer.crisis.about_someone_else
    assert not answer.abstained and answer.text == LEAD
    assert [(c.doc_id, c.section) for c in answer.citations] == [("crisis-support", "What should I do right now?")]
    assert {h.chunk.doc_id for h in answer.passages} == {"crisis-support"}
    assert is_faithful(answer.text, answer.citations, answer.passages)


def test_the_crisis_answer_ignores_filters_that_would_hide_it(kb):
    answer = kb.ask("I want to kill myself", topics=["sleep"], audience="clinician")
    assert answer.text == LEAD


def test_someone_worried_about_another_person_gets_the_article_written_for_them(kb):
    answer = kb.ask("my brother said he wants to kill himself")
    assert answer.crisis.detected and answer.crisis.about_someone_else
    assert [(c.doc_id, c.section) for c in answer.citations] == [("supporting-someone-in-crisis", "")]
    assert answer.text.startswith("If someone is in immediate danger, call 911. [1]")


def test_without_the_crisis_articles_a_crisis_question_is_answered_as_usual(settings, embedder):
    write_files(settings.corpus, {"articles/ending.md": DISTRACTOR_MD})
    build_index(settings, embedder)
    kb = KnowledgeBase(settings, embedder)
    answer = kb.ask("I want to kill myself")
    assert answer.crisis.detected and answer.crisis.resources
    # The general search decides, as for any question: the same passages, quoted as usual.
    assert not answer.abstained and answer.citations[0].doc_id == "sleep-and-ending-the-day"
    usual = kb.search("I want to kill myself", k=len(answer.passages))
    assert [h.chunk.id for h in answer.passages] == [h.chunk.id for h in usual]


def test_a_long_question_with_a_concern_in_it_gets_the_panel_then_the_answer_to_what_it_asks(kb):
    question = (
        "How do I end the day calmly before sleep? I spend hours on my phone every night and then I lie awake, and "
        "my mornings are a mess. Some nights I want to kill myself."
    )
    answer = kb.ask(question)
    assert answer.crisis.detected and answer.crisis.tier == "concern" and answer.crisis.resources
    assert answer.citations and answer.citations[0].doc_id == "sleep-and-ending-the-day"
    # The same message made urgent (a time and a plan) gets what to do right now.
    urgent = kb.ask(question.replace("Some nights I want to kill myself.", "I am going to kill myself tonight."))
    assert urgent.crisis.tier == "urgent" and urgent.text == LEAD


def test_a_question_that_is_not_a_crisis_is_not_sent_to_the_crisis_article(kb):
    answer = kb.ask("how do I end the day calmly before sleep?")
    assert not answer.crisis.detected
    assert answer.citations and answer.citations[0].doc_id == "sleep-and-ending-the-day"


def test_validate_reports_a_quoted_crisis_section_that_was_renamed(settings):
    write_files(
        settings.corpus,
        {
            "articles/crisis.md": CRISIS_MD.replace("## What should I do right now?", "## Right now"),
            "articles/supporting.md": SUPPORTING_MD,
        },
    )
    problems, _ = validate_corpus(settings)
    reasons = [(p.path, p.reason) for p in problems]
    assert (
        "articles/crisis.md",
        "section 'What should I do right now?' is quoted for crisis questions "
        "(kb/data/crisis.yaml, articles) but the article has no such section",
    ) in reasons
    assert not any(p.path == "articles/supporting.md" and "quoted for crisis" in p.reason for p in problems)


def test_a_crisis_recognised_only_by_the_classifier_keeps_the_answer_that_fits_the_question(kb):
    from kb.records import Crisis

    similar = Crisis(True, "suicide", False, score=0.3, reason="classifier (0.30)", tier="concern")
    kb.check_safety = lambda text, query: similar  # a classifier-only detection, without a pattern
    answer = kb.ask("how do I end the day calmly before sleep?")
    assert answer.crisis is similar
    assert answer.citations and answer.citations[0].doc_id == "sleep-and-ending-the-day"


def test_violence_at_home_is_answered_with_getting_safe_first(settings, embedder):
    hurt_md = """---
id: choosing-partners-who-hurt
title: Why do I keep choosing people who hurt me?
topics: [relationships]
audience: public
---
# Why do I keep choosing people who hurt me?

Patterns in relationships can repeat.

## If you are being hurt or threatened now

If someone is hurting you, threatening you or making you afraid, your safety comes first. Understanding patterns \
can wait; getting safe cannot. If you are in immediate danger, call 911 or your local emergency number.

## Conflict at home

Conflict is a normal part of family life, and every couple fights about the same things.
"""
    write_files(settings.corpus, {"articles/hurt.md": hurt_md})
    build_index(settings, embedder)
    kb = KnowledgeBase(settings, embedder)
    for question in ("my partner hits me when he drinks", "my sister's husband beats her"):
        answer = kb.ask(question)
        assert answer.crisis.detected and answer.crisis.kind == "violence", question
        assert answer.text.startswith(
            "If someone is hurting you, threatening you or making you afraid, your safety comes first. [1]"
        ), question
        assert "Conflict is a normal part" not in answer.text


def test_words_written_for_a_person_in_crisis_are_never_quoted_to_a_question_that_is_not_one(kb):
    answer = kb.ask("what should I do right now after a breakup? I feel overwhelmed and can't breathe slowly")
    assert not answer.crisis.detected
    sections = {(c.doc_id, c.section) for c in answer.citations} | {
        (h.chunk.doc_id, h.chunk.section) for h in answer.passages
    }
    assert ("crisis-support", "What should I do right now?") not in sections
    assert "emergency department" not in (answer.text or "")
