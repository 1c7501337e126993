"""Question-shaped sections: a question heading's section opening answers a question that asks nearly the same."""

from __future__ import annotations

import numpy as np

from kb.answering.faq import FaqHeadings, faq_answer
from kb.ingest.chunking import chunk_document, question_openings
from kb.records import Document

from fakes import HashingEmbedder

embedder = HashingEmbedder()

FAQ = (
    "# Questions\n\n## How long does therapy last?\n\n"
    + " ".join(f"Therapy length sentence {i} says how many weeks people often meet for." for i in range(40))
    + "\n\n## Booking\n\nCall the intake line to book a first session with us.\n\n"
    "## What if I cry in a session?\n\nCrying in a session is common and welcome, and it often helps."
)


def openings():
    doc = Document(id="faq", path="faq.md", title="Questions", text=FAQ, format="markdown")
    return question_openings(chunk_document(doc, embedder.count_tokens, max_tokens=64))


def test_only_the_first_chunk_of_a_question_section_opens_it():
    found = openings()
    assert [q for _, q in found] == ["How long does therapy last?", "What if I cry in a session?"]
    first, _ = found[0]
    assert first.text.startswith("Therapy length sentence 0 ")


def test_a_question_close_to_a_heading_is_answered_from_its_section():
    found = openings()
    headings = FaqHeadings(found, embedder.embed([q for _, q in found]))
    match = faq_answer(headings, embedder.embed(["What if I cry in a session?"])[0], threshold=0.9)
    assert match is not None and match.question == "What if I cry in a session?"
    assert match.chunk.text.startswith("Crying in a session")


def test_nothing_answers_below_the_threshold_or_when_the_section_is_not_allowed():
    found = openings()
    headings = FaqHeadings(found, embedder.embed([q for _, q in found]))
    vector = embedder.embed(["What if I cry in a session?"])[0]
    assert faq_answer(headings, vector, threshold=1.01) is None
    other = faq_answer(headings, vector, threshold=-1.0, allowed=lambda c: "Crying" not in c.text)
    assert other is not None and other.question == "How long does therapy last?"
    assert faq_answer(FaqHeadings([], np.zeros((0, embedder.dimension))), vector, threshold=-1.0) is None


FAQ_ARTICLE = """\
---
id: faq-practical
title: Practical questions
summary: Short answers to practical questions about therapy.
topics: [sleep]
audience: public
last_reviewed: 2026-11-20
reviewed_by: editorial team
references: ["Gabbard, G. O. (2017). Long-term psychodynamic psychotherapy."]
---

# Practical questions

## What if I cry in a session?

Crying in a session is common, and therapists are used to it. Tears often mean that something important is \
being touched. Your therapist will not rush you, and there are tissues in the room.

## How do I help my teenager who cries in a session?

Teenagers often cry when something important is touched, and that is all right. Stay calm and let the \
therapist guide the session; your teen will not be rushed.

## Can I bring a friend to my first session?

Most first sessions are for you alone, so you can speak freely. If you would feel safer with someone in the \
waiting room, ask when you book.
"""


def faq_kb(settings, embedder):
    from kb.index.build import build_index
    from kb.knowledge_base import KnowledgeBase

    (settings.corpus / "articles" / "faq-practical.md").write_text(FAQ_ARTICLE, encoding="utf-8")
    build_index(settings, embedder)
    return KnowledgeBase(settings, embedder)


def test_a_question_asked_as_a_heading_asks_it_is_answered_with_that_sections_opening(settings, embedder):
    from kb.answering.compose import is_faithful

    kb = faq_kb(settings, embedder)
    match = kb.faq_section(kb.understand("What if I cry in a session?"), None, None)
    assert match is not None and match.chunk.section == "What if I cry in a session?"
    answer = kb.ask("What if I cry in a session?")
    assert answer.text is not None and answer.text.startswith("Crying in a session is common")
    assert answer.citations[0].doc_id == "faq-practical"
    assert answer.citations[0].section == "What if I cry in a session?"
    assert answer.passages[0].chunk.id == answer.citations[0].chunk_id
    assert is_faithful(answer.text, answer.citations, answer.passages)


def test_a_question_no_heading_asks_is_answered_from_the_best_passages_as_before(settings, embedder):
    kb = faq_kb(settings, embedder)
    assert kb.faq_section(kb.understand("what is transference"), None, None) is None
    answer = kb.ask("what is transference")
    assert answer.text is not None
    assert all(c.doc_id != "faq-practical" for c in answer.citations)


def test_a_heading_about_someone_the_visitor_never_mentioned_never_answers(settings, embedder):
    kb = faq_kb(settings, embedder)
    asked = "How do I help my teenager who cries in a session?"
    match = kb.faq_section(kb.understand(asked), None, None)
    assert match is not None and match.chunk.section == asked  # a parent asking gets the section
    # Asked without the teenager, the same words never answer from it.
    match = kb.faq_section(kb.understand("How do I help a person who cries in a session?"), None, None)
    assert match is None or match.chunk.section != asked


def test_a_section_outside_the_visitors_topic_filter_never_answers(settings, embedder):
    answer = faq_kb(settings, embedder).ask("What if I cry in a session?", topics=["anger"])
    assert all(c.doc_id != "faq-practical" for c in answer.citations)


def test_the_shipped_bar_keeps_nine_in_ten_labelled_train_pairs_right():
    from pathlib import Path

    import yaml

    from kb.config import Settings

    path = Path(__file__).parent / "eval" / "faq_calibration.yaml"
    pairs = yaml.safe_load(path.read_text(encoding="utf-8"))["pairs"]
    fired = [p for p in pairs if p["similarity"] >= Settings().faq_answer_above]
    assert len(fired) >= 30, "the bar answers almost nothing from headings"
    assert sum(p["answers"] for p in fired) / len(fired) >= 0.9, "FAQ answers at this bar are wrong too often"


def test_the_opening_question_of_a_longer_message_is_found():
    from kb.answering.faq import opening_question

    story = "How do I stop worrying so much about other people's opinions? I keep trying to impress everyone at school."
    assert opening_question(story) == "How do I stop worrying so much about other people's opinions?"
    assert opening_question("Why am I lonely all the time lately?\nI have friends, but it never feels close.") == (
        "Why am I lonely all the time lately?"
    )
    assert opening_question("What if I cry in a session?") is None  # nothing after it: the whole is the question
    assert opening_question("I feel sad all the time. Why?") is None  # it does not open with a question
    assert opening_question("Why? Just why do I feel this way") is None  # too short to match a heading


def test_a_longer_message_that_opens_with_a_headings_question_is_answered_from_its_section(settings, embedder):
    kb = faq_kb(settings, embedder)
    asked = (
        "What if I cry in a session? My appointment is on Thursday morning, my manager knows I am taking the time "
        "off, the office is two buses away, and I keep replaying every awkward moment from last winter at work."
    )
    query = kb.understand(asked)
    assert query.lead_vector is not None
    # the whole message is too far from the heading to be answered from it
    assert max(kb.faq_headings.vectors @ query.vector) < kb.settings.faq_answer_above
    match = kb.faq_section(query, None, None)
    assert match is not None and match.chunk.section == "What if I cry in a session?"
    assert kb.ask(asked).text.startswith("Crying in a session is common")
