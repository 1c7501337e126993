"""Answers: a cleaned question, quotable sentences, a short cited extract (or an abstention), checked for
faithfulness."""

from __future__ import annotations

import re

import numpy as np
import pytest

from kb.answering.compose import (MAX_QUERY_CHARS, Candidate, candidates, cited_sentences, clean_query, compose, is_faithful,
                       is_relevant, order_for_reading)
from kb.index.build import build_index
from kb.models.embedders import HashingEmbedder
from kb.errors import InputError
from kb.knowledge_base import KnowledgeBase
from kb.records import Chunk, Hit

QUERY = "what is transference and where do those feelings come from"

TRANSFERENCE = ("Transference means carrying feelings from an important early relationship into a new one. "
                "A person may feel towards a boss the way they once felt towards a strict parent. "
                "The feeling is real, but its source is older than the situation. "
                "Most people never notice their own transference at work or at home.")
THERAPY = ("In therapy, transference is not a problem to avoid or a mistake to correct. "
           "It is a window onto feelings and patterns that are otherwise hard to see. "
           "Freud first described transference in the consulting room with his own patients.")
SLEEP = ("Keep a regular bedtime and wake time on most days of the week. "
         "Dim the lights and put screens away an hour before bed.")
# Differs from the first sentence of TRANSFERENCE by one word: a near-duplicate for MMR.
ECHO = ("Transference means carrying old feelings from an important early relationship into a new one. "
        "Dreams often borrow images and worries from the last few days.")

SENTENCE_WITH_MARKER = re.compile(r"(.+?)\s\[(\d+)\](?:\s|$)", re.S)


def make_hit(text: str, doc_id: str = "doc", rank: int = 1, ordinal: int = 0, title: str = "A title",
             section: str = "A section", page: int | None = None, dense: float | None = 0.6) -> Hit:
    chunk = Chunk(id=f"{doc_id}#{ordinal}", doc_id=doc_id, ordinal=ordinal, text=text, section=section,
                  start=0, end=len(text), page=page)
    return Hit(rank=rank, chunk=chunk, score=1.0 / rank, title=title, topics=[], audience="public",
               url=f"/library?doc={doc_id}", dense_score=dense)


@pytest.fixture
def model() -> HashingEmbedder:
    """A wider fake embedder than the shared one, so unrelated words rarely share a bucket."""
    return HashingEmbedder(256)


@pytest.fixture
def hits() -> list[Hit]:
    return [make_hit(TRANSFERENCE, "transference-basics", rank=1, title="Transference in everyday life",
                     section="What transference is", page=None),
            make_hit(THERAPY, "the-therapeutic-relationship", rank=2, title="The therapeutic relationship",
                     section="In therapy", page=3),
            make_hit(SLEEP, "sleep-and-dreams", rank=3, title="Sleep and dreams", section="Better nights")]


# clean_query


@pytest.mark.parametrize("query", ["", "   ", "\n\t  \n", None])
def test_an_empty_question_is_an_input_error_that_says_what_to_do(query):
    with pytest.raises(InputError, match="empty") as caught:
        clean_query(query)
    assert "type a few words" in str(caught.value)


def test_whitespace_is_collapsed_and_a_normal_question_has_no_notices():
    assert clean_query("  what   is\n transference?\t") == ("what is transference?", [])


def test_an_overlong_question_is_cut_at_a_word_with_a_notice():
    text, notices = clean_query("transference " * 400)  # 5,200 characters
    assert len(text) <= MAX_QUERY_CHARS
    assert set(text.split()) == {"transference"}  # cut between words, not inside one
    assert len(notices) == 1 and str(MAX_QUERY_CHARS) in notices[0] and "long" in notices[0]


def test_a_question_just_at_the_limit_is_kept_whole():
    question = ("a" * 9 + " ") * (MAX_QUERY_CHARS // 10)
    text, notices = clean_query(question)
    assert text == question.strip() and notices == []


@pytest.mark.parametrize("query", ["🙂🙂🙂", "?!?! ...", "💔 — !!"])
def test_emoji_or_punctuation_only_gets_a_notice_not_a_crash(query):
    text, notices = clean_query(query)
    assert text == " ".join(query.split())
    assert any("no words" in n for n in notices)


def test_asking_with_emoji_only_abstains_politely(settings, embedder):
    build_index(settings, embedder)
    answer = KnowledgeBase(settings, embedder).ask("🙂🙂🙂 ?!")
    assert answer.abstained and answer.text is None and answer.citations == [] and answer.passages == []
    assert any("no words" in n for n in answer.notices)
    assert answer.disclaimer


def test_asking_an_empty_question_raises_input_error(settings, embedder):
    build_index(settings, embedder)
    with pytest.raises(InputError, match="empty"):
        KnowledgeBase(settings, embedder).ask("   ")


# candidates


def test_candidates_keep_whole_sentences_verbatim_with_their_position():
    hit = make_hit(TRANSFERENCE)
    found = candidates([hit])
    assert [c.text for c in found] == [
        "Transference means carrying feelings from an important early relationship into a new one.",
        "A person may feel towards a boss the way they once felt towards a strict parent.",
        "The feeling is real, but its source is older than the situation.",
        "Most people never notice their own transference at work or at home.",
    ]
    for cand in found:
        assert cand.hit is hit
        assert hit.chunk.text[cand.position:cand.position + len(cand.text)] == cand.text


@pytest.mark.parametrize("dropped", [
    "# How transference shows up at work and at home",
    "Why do so many of us repeat the same painful patterns?",
    "See the list below.",
    "Read more.",
    "Common signs of transference include:",
    "This article explains transference in plain and simple words.",
    "The article also covers dreams, nightmares and sleep in some detail.",
    "In this section we look at what happens between a client and a therapist.",
    "See also the glossary for words such as countertransference and projection.",
])
def test_candidates_drop_headings_questions_fragments_and_sentences_about_the_article(dropped):
    kept = "A person may feel towards a boss the way they once felt towards a strict parent."
    text = f"{dropped}\n\n{kept}" if dropped.startswith("#") or dropped.endswith(":") else f"{dropped} {kept}"
    assert [c.text for c in candidates([make_hit(text)])] == [kept]


def test_a_list_is_split_into_its_items_and_its_lead_in_is_dropped():
    text = ("Some common signs of anger that overwhelms include:\n\n"
            "- Sudden outbursts, yelling, slamming doors or saying things you regret.\n"
            "- Short fuse.\n"
            "- Feeling on edge and snapping at small things most of the day.")
    found = [c.text for c in candidates([make_hit(text)])]
    assert found == ["Sudden outbursts, yelling, slamming doors or saying things you regret.",
                     "Feeling on edge and snapping at small things most of the day."]
    assert not any("\n" in c or c.endswith(":") for c in found)


def test_a_sentence_repeated_in_a_second_passage_is_offered_once():
    first = make_hit(TRANSFERENCE, "a", rank=1)
    second = make_hit(TRANSFERENCE.split(". ")[0] + ". Another sentence that is long enough to quote here.", "b",
                      rank=2)
    texts = [c.text for c in candidates([first, second])]
    assert len(texts) == len(set(texts)) == 5
    assert texts[-1] == "Another sentence that is long enough to quote here."


def test_sentences_split_at_abbreviations_only_where_a_sentence_ends():
    text = "Defences such as projection, e.g. Blaming others, protect us from painful feelings. It is common."
    assert [c.text for c in candidates([make_hit(text)])] == [
        "Defences such as projection, e.g. Blaming others, protect us from painful feelings."]


# compose


def test_compose_quotes_two_to_five_sentences_each_cited(hits, model):
    text, citations = compose(QUERY, hits, model)
    pairs = cited_sentences(text)
    assert 2 <= len(pairs) <= 5
    assert SENTENCE_WITH_MARKER.sub("", text).strip() == ""  # nothing uncited in between
    assert text == " ".join(f"{sentence} [{n}]" for sentence, n in pairs)
    assert is_faithful(text, citations, hits)


def test_every_sentence_is_verbatim_in_the_passage_it_cites(hits, model):
    text, citations = compose(QUERY, hits, model)
    by_n = {c.n: c for c in citations}
    chunks = {h.chunk.id: h.chunk.text for h in hits}
    for sentence, n in cited_sentences(text):
        assert sentence in chunks[by_n[n].chunk_id]
        assert sentence in by_n[n].quote


def test_citations_are_numbered_from_one_and_describe_their_passage(hits, model):
    text, citations = compose(QUERY, hits, model, source_urls={"transference-basics": "https://example.org/t"})
    assert [c.n for c in citations] == list(range(1, len(citations) + 1))
    assert sorted({n for _, n in cited_sentences(text)}) == [c.n for c in citations]  # every citation is used
    by_chunk = {h.chunk.id: h for h in hits}
    for c in citations:
        hit = by_chunk[c.chunk_id]
        assert (c.doc_id, c.title, c.section, c.page, c.url) == (hit.chunk.doc_id, hit.title, hit.chunk.section,
                                                                 hit.chunk.page, hit.url)
        assert c.quote and c.quote.split(" … ")[0] in hit.chunk.text
        assert c.source_url == ("https://example.org/t" if c.doc_id == "transference-basics" else "")
    assert {c.doc_id for c in citations} <= {"transference-basics", "the-therapeutic-relationship"}
    assert citations[0].doc_id == "transference-basics"
    assert any(c.page == 3 for c in citations)  # the PDF-like passage keeps its page


def test_one_citation_per_passage_and_its_quote_holds_every_sentence_used(hits, model):
    text, citations = compose(QUERY, hits, model)
    assert len({c.chunk_id for c in citations}) == len(citations)
    for c in citations:
        used = [s for s, n in cited_sentences(text) if n == c.n]
        assert c.quote == " … ".join(used)


def test_the_answer_never_repeats_a_near_duplicate_sentence(model):
    hits = [make_hit(TRANSFERENCE, "a", rank=1), make_hit(ECHO, "b", rank=2)]
    near = ("Transference means carrying feelings from an important early relationship into a new one.",
            "Transference means carrying old feelings from an important early relationship into a new one.")
    vectors = model.embed(list(near))
    assert float(vectors[0] @ vectors[1]) > 0.9  # the fake model sees them as near-duplicates
    text, _ = compose(QUERY, hits, model)
    sentences = [s for s, _ in cited_sentences(text)]
    assert sum(s in near for s in sentences) == 1
    vectors = model.embed(sentences)
    similarity = vectors @ vectors.T
    assert (similarity[~np.eye(len(sentences), dtype=bool)] <= 0.9).all()


def test_sentences_of_one_passage_stay_together_in_reading_order(hits, model):
    text, citations = compose(QUERY, hits, model)
    numbers = [n for _, n in cited_sentences(text)]
    assert numbers == sorted(numbers)  # passages are not interleaved
    chunks = {c.n: next(h.chunk.text for h in hits if h.chunk.id == c.chunk_id) for c in citations}
    for n in set(numbers):
        positions = [chunks[n].index(s) for s, m in cited_sentences(text) if m == n]
        assert positions == sorted(positions)


def test_order_for_reading_groups_by_passage_in_order_of_first_choice():
    a, b = make_hit(TRANSFERENCE, "a", rank=1), make_hit(THERAPY, "b", rank=2)
    chosen = [Candidate(b, "b late", 80), Candidate(a, "a late", 90), Candidate(b, "b early", 0),
              Candidate(a, "a early", 5)]
    assert [c.text for c in order_for_reading(chosen)] == ["b early", "b late", "a early", "a late"]


def test_limit_caps_the_number_of_sentences(hits, model):
    text, _ = compose(QUERY, hits, model, limit=2)
    assert len(cited_sentences(text)) == 2


def test_nothing_quotable_gives_an_empty_answer(model):
    hits = [make_hit("# Transference\n\nWhat is transference?\nSee below.")]
    assert compose(QUERY, hits, model) == ("", [])


def test_an_unrelated_passage_is_left_out_once_two_good_sentences_are_found(hits, model):
    _, citations = compose(QUERY, hits, model)
    assert "sleep-and-dreams" not in {c.doc_id for c in citations}


# is_faithful


@pytest.fixture
def answer(hits, model):
    text, citations = compose(QUERY, hits, model)
    assert len({c.n for c in citations}) >= 2, "the tampering tests need an answer citing two passages"
    return text, citations


def test_a_composed_answer_is_faithful(answer, hits):
    text, citations = answer
    assert is_faithful(text, citations, hits)


@pytest.mark.parametrize("tamper", [
    lambda t: t.replace("feelings", "memories", 1),  # a changed word
    lambda t: t.replace("[1]", "[7]", 1),  # a citation that does not exist
    lambda t: t.replace("[1]", "[X]").replace("[2]", "[1]").replace("[X]", "[2]"),  # the wrong passage cited
    lambda t: t + " Therapy always cures anxiety within a month.",  # an uncited sentence at the end
    lambda t: "Therapy always cures anxiety within a month.\n" + t,  # an uncited line at the start
    lambda t: re.sub(r" \[\d+\]", "", t),  # no markers at all
])
def test_a_tampered_answer_is_not_faithful(answer, hits, tamper):
    text, citations = answer
    changed = tamper(text)
    assert changed != text
    assert not is_faithful(changed, citations, hits)


def test_a_sentence_from_a_passage_that_was_not_retrieved_is_not_faithful(answer, hits):
    text, citations = answer
    assert not is_faithful(text, citations, hits[1:])


def test_an_abstention_is_trivially_faithful(hits):
    assert is_faithful(None, [], hits) and is_faithful("", [], hits)


# is_relevant


def test_relevant_when_the_best_dense_score_reaches_the_threshold():
    hits = [make_hit("a", dense=0.2), make_hit("b", "b", rank=2, dense=0.5)]
    assert is_relevant(hits, 0.5)
    assert is_relevant(hits, 0.35)
    assert not is_relevant(hits, 0.51)


def test_not_relevant_without_hits_or_dense_scores():
    assert not is_relevant([], 0.0)
    assert not is_relevant([make_hit("a", dense=None)], 0.0)  # a BM25-only hit says nothing about meaning


def test_a_dense_score_of_exactly_zero_counts_as_zero():
    assert is_relevant([make_hit("a", dense=0.0)], 0.0)
    assert not is_relevant([make_hit("a", dense=0.0)], 0.01)
