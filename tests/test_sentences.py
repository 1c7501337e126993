"""Sentence boundaries from pysbd, stored with each chunk at index time, and a passage read as its author built it."""

from __future__ import annotations

from kb.index.build import build_index
from kb.index.store import load_index
from kb.ingest.chunking import chunk_document
from kb.ingest.passage import passage_units, plain
from kb.ingest.sentences import sentence_spans
from kb.records import Chunk, Document


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_a_lone_no_is_its_own_sentence_not_glued_to_the_next():
    assert sentences("No. Many people feel unsure at first. That is common.") == [
        "No.",
        "Many people feel unsure at first.",
        "That is common.",
    ]


def test_a_numbered_item_keeps_its_number_out_of_its_first_sentence():
    text = "1. Call or text 9-8-8 now. It is free.\n2. Go to an emergency department."
    assert sentences(text) == ["Call or text 9-8-8 now.", "It is free.", "Go to an emergency department."]


def test_abbreviations_and_initials_do_not_end_a_sentence():
    text = "Defences, e.g. projection, protect us. J. Bowlby wrote about anger as protest in 1973."
    assert sentences(text) == [
        "Defences, e.g. projection, protect us.",
        "J. Bowlby wrote about anger as protest in 1973.",
    ]


def test_a_line_never_runs_into_the_next_and_spans_are_verbatim():
    text = "Signs include:\n- Short fuse\n- Feeling on edge most of the day\n\nA new paragraph starts here."
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "Signs include:",
        "Short fuse",
        "Feeling on edge most of the day",
        "A new paragraph starts here.",
    ]
    assert all("\n" not in text[s:e] and text[s:e] == text[s:e].strip() for s, e in spans)


def test_every_chunk_carries_the_spans_of_its_sentences():
    body = " ".join(f"Sentence number {n} says something about feelings and patterns." for n in range(40))
    doc = Document(id="d", path="d.md", title="D", text=f"# D\n\n{body}\n\n- An item of a list.\n", format="markdown")
    chunks = chunk_document(doc, lambda t: len(t.split()), max_tokens=64)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.sentences == sentence_spans(chunk.text)
        assert all(0 <= s < e <= len(chunk.text) for s, e in chunk.sentences)


def test_the_spans_are_stored_in_the_build_and_read_back(settings, embedder):
    build_index(settings, embedder)
    index = load_index(settings.index, embedder.name, embedder.dimension)
    assert index.chunks and all(c.sentences == sentence_spans(c.text) for c in index.chunks)


def test_a_list_item_knows_its_lead_in_and_a_list_that_starts_the_passage_has_none():
    text = (
        "- A carried-over item from the last passage.\n\nGrief can become stuck. Talk to someone if:\n"
        "- **You cannot sleep** for weeks.\n- You feel numb."
    )
    units = passage_units(Chunk("c", "d", 0, text, "", 0, len(text)))
    texts = [plain(u.text(text)) for u in units]
    lead = texts.index("Talk to someone if:")
    assert [(t, u.item, u.lead_in) for t, u in zip(texts, units, strict=False)] == [
        ("A carried-over item from the last passage.", True, None),
        ("Grief can become stuck.", False, None),
        ("Talk to someone if:", False, None),
        ("You cannot sleep for weeks.", True, lead),
        ("You feel numb.", True, lead),
    ]


def test_a_chunk_without_stored_spans_is_split_when_read():
    text = "No. Many people feel this way. It passes."
    units = passage_units(Chunk("c", "d", 0, text, "", 0, len(text)))
    assert [u.text(text) for u in units] == ["No.", "Many people feel this way.", "It passes."]
