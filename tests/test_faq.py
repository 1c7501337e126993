"""Question-shaped sections: a question heading's section opening answers a question that asks nearly the same."""

from __future__ import annotations

import numpy as np

from kb.answering.faq import FaqHeadings, faq_answer
from kb.ingest.chunking import chunk_document, question_openings
from kb.models.embedders import HashingEmbedder
from kb.records import Document

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
