"""Splitting a Document into chunks: headings, paragraphs, sentences, a token budget and overlap."""

from __future__ import annotations

import re

import pytest

from kb.ingest.chunking import SPECIAL_TOKENS, chunk_document, context_prefix, sections, split_sentences
from kb.ingest.loaders import load_document
from kb.records import Document

from fakes import HashingEmbedder

count = HashingEmbedder().count_tokens
SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")


def doc_of(text: str, title: str = "Guide", doc_id: str = "guide", **extra) -> Document:
    return Document(id=doc_id, path=f"{doc_id}.md", title=title, text=text, format="markdown", **extra)


def sentences(n: int, topic: str = "worry") -> str:
    return " ".join(f"Sentence {i} is about {topic} and how it shapes a day number {i}." for i in range(1, n + 1))


def test_span_of_every_chunk_is_its_text(corpus):
    doc = load_document(corpus / "articles/transference.md", corpus)
    chunks = chunk_document(doc, count, max_tokens=48)
    assert len(chunks) > 3
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.doc_id == "transference-basics"
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_heading_path_joins_nested_headings_and_leaves_out_the_title(corpus):
    doc = load_document(corpus / "articles/transference.md", corpus)
    by_section = {}
    for chunk in chunk_document(doc, count):
        by_section.setdefault(chunk.section, []).append(chunk.text)
    assert list(by_section) == ["", "What transference is", "In everyday life > At work", "In everyday life > In love"]
    assert by_section[""][0].startswith("Transference means carrying feelings")
    assert "colleagues" in " ".join(by_section["In everyday life > At work"]).lower()


def test_h1_that_differs_from_the_title_stays_in_the_path():
    doc = doc_of("# Part one\n\n## Details\n\nSome detail here.", title="Other title")
    assert [s for s, _, _ in sections(doc)] == ["Part one > Details"]


def test_heading_text_is_not_part_of_chunk_text():
    doc = doc_of("# Guide\n\n## Breathing\n\nBreathe slowly.")
    (chunk,) = chunk_document(doc, count)
    assert chunk.text == "Breathe slowly."
    assert chunk.section == "Breathing"
    assert chunk.embed_text == "Guide > Breathing\nBreathe slowly."


def test_context_prefix_without_section_is_the_title():
    assert context_prefix("Guide", "") == "Guide\n"


@pytest.mark.parametrize("max_tokens", [40, 64, 128, 256])
def test_every_chunk_fits_the_budget_including_title_and_section(max_tokens):
    doc = doc_of(
        "# Guide\n\n## A rather long section heading about coping\n\n" + sentences(40) + "\n\n" + sentences(15, "sleep")
    )
    chunks = chunk_document(doc, count, max_tokens=max_tokens)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert count(chunk.embed_text) + SPECIAL_TOKENS <= max_tokens
        assert chunk.embed_text.startswith("Guide > A rather long section heading about coping\n")


def test_budget_is_counted_with_the_models_tokenizer():
    def chars(text: str) -> int:  # a "model" whose tokens are characters
        return len(text)

    doc = doc_of(sentences(12))
    chunks = chunk_document(doc, chars, max_tokens=160)
    assert len(chunks) > 3  # 12 sentences of ~60 characters cannot fit in two chunks
    assert all(len(c.embed_text) + SPECIAL_TOKENS <= 160 for c in chunks)


def test_default_budget_is_256_tokens():
    doc = doc_of(sentences(60))
    chunks = chunk_document(doc, count)
    assert all(count(c.embed_text) + SPECIAL_TOKENS <= 256 for c in chunks)
    assert max(count(c.embed_text) for c in chunks) > 200  # and it is actually used, not a tiny default


def test_chunks_start_and_end_on_sentence_boundaries():
    text = sentences(30)
    starts = {s for s, _ in split_sentences(text)}
    ends = {e for _, e in split_sentences(text)}
    for chunk in chunk_document(doc_of(text), count, max_tokens=50):
        assert chunk.start in starts and chunk.end in ends
        assert SENTENCE_END.search(chunk.text)


def test_only_a_sentence_longer_than_the_budget_is_cut():
    long_sentence = "This one sentence " + " ".join(f"goes on{i}" for i in range(120)) + " and finally ends."
    text = f"A short opener. {long_sentence} A short closer."
    chunks = chunk_document(doc_of(text), count, max_tokens=64)
    cut = [c for c in chunks if not SENTENCE_END.search(c.text)]
    assert cut, "the over-long sentence must be split"
    assert all(c.text in long_sentence for c in cut)
    assert all(count(c.embed_text) + SPECIAL_TOKENS <= 64 for c in chunks)
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())  # nothing is lost
    assert any(c.text.startswith("A short opener.") for c in chunks)
    assert any(c.text.endswith("A short closer.") for c in chunks)


def test_abbreviations_do_not_end_a_sentence():
    text = "Some clinicians, e.g. Dr. Winnicott, wrote about play. J. Bowlby wrote about attachment."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Some clinicians, e.g. Dr. Winnicott, wrote about play.",
        "J. Bowlby wrote about attachment.",
    ]


def test_list_items_without_full_stops_are_whole_units():
    items = [f"- item {i} has no full stop but runs on for a while" for i in range(6)]
    text = "First paragraph sentence.\n\n" + "\n".join(items)
    chunks = chunk_document(doc_of(text), count, max_tokens=36, overlap=0)
    assert len(chunks) >= 3  # the list is too long for one chunk, and is not cut mid-item
    for chunk in chunks:
        assert chunk.text.startswith(("- item", "First")) and chunk.text.endswith(("a while", "sentence."))
    assert sum(c.text.count("- item") for c in chunks) == len(items)


def test_consecutive_chunks_overlap_by_one_sentence():
    doc = doc_of(sentences(30))
    chunks = chunk_document(doc, count, max_tokens=60, overlap=1)
    assert len(chunks) >= 3
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = doc.text[after.start : before.end]
        assert after.start < before.end
        assert [shared[s:e] for s, e in split_sentences(shared)] == [shared]  # exactly one whole sentence
        assert before.text.endswith(shared)


def test_no_overlap_when_overlap_is_zero():
    doc = doc_of(sentences(30))
    chunks = chunk_document(doc, count, max_tokens=60, overlap=0)
    assert all(after.start > before.end for before, after in zip(chunks, chunks[1:], strict=False))
    assert "".join(c.text for c in chunks).replace(" ", "") == doc.text.replace(" ", "")


def test_overlap_does_not_cross_a_heading():
    doc = doc_of("## One\n\n" + sentences(10) + "\n\n## Two\n\nOnly this sentence is in section two.")
    chunks = chunk_document(doc, count, max_tokens=60)
    second = [c for c in chunks if c.section == "Two"]
    assert [c.text for c in second] == ["Only this sentence is in section two."]


def test_chunk_ids_are_deterministic_and_unique(corpus):
    doc = load_document(corpus / "articles/transference.md", corpus)
    first = chunk_document(doc, count, max_tokens=48)
    again = chunk_document(load_document(corpus / "articles/transference.md", corpus), count, max_tokens=48)
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)


def test_editing_one_section_keeps_the_other_chunk_ids():
    before = doc_of("## One\n\nAlpha sentence here.\n\n## Two\n\nBeta sentence here.")
    after = doc_of("## One\n\nAlpha sentence changed.\n\n## Two\n\nBeta sentence here.")
    ids_before = {c.section: c.id for c in chunk_document(before, count)}
    ids_after = {c.section: c.id for c in chunk_document(after, count)}
    assert ids_before["Two"] == ids_after["Two"]
    assert ids_before["One"] != ids_after["One"]


def test_repeated_text_gets_distinct_ids():
    doc = doc_of("## A\n\nSame words.\n\n## A\n\nSame words.")
    chunks = chunk_document(doc, count)
    assert len(chunks) == 2 and chunks[0].id != chunks[1].id


def test_same_text_in_two_documents_gets_distinct_ids():
    one = chunk_document(doc_of("Same words here.", doc_id="one"), count)
    two = chunk_document(doc_of("Same words here.", doc_id="two"), count)
    assert one[0].id != two[0].id


def test_pdf_chunks_carry_their_page(tmp_path, stress_pdf):
    (tmp_path / "stress.pdf").write_bytes(stress_pdf)
    doc = load_document(tmp_path / "stress.pdf", tmp_path)
    chunks = chunk_document(doc, count)
    pages = {c.section: c.page for c in chunks}
    assert pages == {"Coping with stress": 1, "Rest and recovery": 2}
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)


def test_a_chunk_starting_a_page_gets_that_page(tmp_path, make_pdf):
    first = (
        "Breathing slowly calms the body and the mind. It takes a few minutes to work for most people. "
        "Practise it every single day, morning and night."
    )
    second = "Grounding uses the senses. Name five things you can see around you. Then name four things you hear."
    (tmp_path / "two.pdf").write_bytes(make_pdf([["# Calming down", first], [second]]))
    doc = load_document(tmp_path / "two.pdf", tmp_path)
    assert doc.text[doc.page_starts[1] :].startswith("Grounding uses the senses.")
    chunks = chunk_document(doc, count, max_tokens=36, overlap=0)  # one page's paragraph per chunk
    assert [(c.text.split(".")[0], c.page) for c in chunks] == [
        ("Breathing slowly calms the body and the mind", 1),
        ("Grounding uses the senses", 2),
    ]
    for chunk in chunks:
        assert doc.page_starts[chunk.page - 1] <= chunk.start
        assert chunk.page == len(doc.page_starts) or chunk.start < doc.page_starts[chunk.page]


def test_markdown_chunks_have_no_page(corpus):
    doc = load_document(corpus / "articles/sleep.md", corpus)
    assert {c.page for c in chunk_document(doc, count)} == {None}


def test_document_with_only_headings_has_no_chunks():
    assert chunk_document(doc_of("# Guide\n\n## Empty section\n\n## Another"), count) == []
