"""`kb ask` end to end on the shipped corpus with the real model: JSON shape, batches, abstention, human output."""

from __future__ import annotations

import pytest

import kb.knowledge_base
from kb.answering.compose import ABSTAIN_MESSAGE, DISCLAIMER, cited_sentences
from kb.config import Settings
from kb.directory.therapists import load_directory
from kb.ingest.topics import load_topics

pytestmark = pytest.mark.slow

QUESTION = "why do I keep choosing people who hurt me?"
OFF_TOPIC = "what's a good recipe for banana bread"
KEYS = {
    "query",
    "answer",
    "abstained",
    "citations",
    "passages",
    "topics",
    "therapists",
    "crisis",
    "disclaimer",
    "notices",
}
CITATION_KEYS = {"n", "doc_id", "chunk_id", "title", "section", "page", "url", "source_url", "quote"}
PASSAGE_KEYS = {"rank", "doc_id", "chunk_id", "title", "section", "page", "score", "text", "topics", "url"}
THERAPIST_KEYS = {"id", "name", "credentials", "specialties", "matched_topics", "why", "profile_url", "score"}


@pytest.fixture
def ask(app_index: Settings, real_model, run_kb, monkeypatch, tmp_path):
    """Run `kb ask ARGS...` against the session's index of the shipped corpus, sharing the session's model."""
    monkeypatch.chdir(tmp_path)  # no stray kb.toml
    monkeypatch.setattr(kb.knowledge_base, "load_embedder", lambda settings: real_model)

    def run(*args: str):
        return run_kb("ask", *args, "--corpus", app_index.corpus, "--index", app_index.index)

    return run


@pytest.fixture(scope="module")
def directory(app_index: Settings):
    vocabulary = {t.id for t in load_topics(app_index.topics_path)}
    return {t.id: t for t in load_directory(app_index.therapists_path, vocabulary).therapists}


@pytest.fixture(scope="module")
def vocabulary(app_index: Settings) -> set[str]:
    return {t.id for t in load_topics(app_index.topics_path)}


def test_ask_json_shape(ask, directory, vocabulary):
    run = ask(QUESTION, "--json")
    assert run.code == 0 and run.err == ""
    data = run.json()
    assert set(data) == KEYS
    assert data["query"] == QUESTION
    assert data["abstained"] is False and isinstance(data["answer"], str) and data["answer"]
    assert data["citations"] and data["passages"]
    for c in data["citations"]:
        assert set(c) == CITATION_KEYS
    for p in data["passages"]:
        assert set(p) == PASSAGE_KEYS
    assert [p["rank"] for p in data["passages"]] == list(range(1, len(data["passages"]) + 1))
    assert data["topics"] and set(data["topics"]) <= vocabulary
    assert data["crisis"] == {"detected": False, "tier": "none"}
    assert data["disclaimer"] == DISCLAIMER and "not therapy" in DISCLAIMER and "9-8-8" in DISCLAIMER
    assert data["notices"] == []


def test_ask_json_answer_is_cited_sentence_by_sentence(ask):
    data = ask(QUESTION, "--json").json()
    pairs = cited_sentences(data["answer"])
    assert 2 <= len(pairs) <= 5
    assert [c["n"] for c in data["citations"]] == list(range(1, len(data["citations"]) + 1))
    by_n = {c["n"]: c for c in data["citations"]}
    passages = {p["chunk_id"]: p for p in data["passages"]}
    for sentence, n in pairs:
        citation = by_n[n]
        passage = passages[citation["chunk_id"]]
        assert sentence in passage["text"] and sentence in citation["quote"]
        assert (citation["doc_id"], citation["title"]) == (passage["doc_id"], passage["title"])
        assert citation["url"].startswith("/library?doc=")
    # The question is about repeating painful relationship patterns: so are the sources (the FAQ section that
    # asks "Why do I keep choosing partners who hurt me?" answers it first).
    sources = {"choosing-partners-who-hurt", "repeating-relationship-patterns", "faq-relationships-and-family"}
    assert sources & {c["doc_id"] for c in data["citations"]}


def test_ask_json_suggests_three_therapists_with_reasons(ask, directory):
    data = ask(QUESTION, "--json").json()
    therapists = data["therapists"]
    assert len(therapists) == 3
    assert len({t["id"] for t in therapists}) == 3
    for t in therapists:
        assert set(t) == THERAPIST_KEYS
        entry = directory[t["id"]]
        assert (t["name"], t["credentials"], t["profile_url"]) == (entry.name, entry.credentials, entry.profile_url)
        assert t["specialties"] == list(entry.specialties)
        assert set(t["matched_topics"]) <= set(t["specialties"]) & set(data["topics"])
        assert t["why"].startswith("Works with ") and "psychodynamic" in t["why"]
        assert t["profile_url"].startswith("https://example.org/")
    assert therapists[0]["matched_topics"], "the best match should share a topic with the question"
    assert [t["score"] for t in therapists] == sorted((t["score"] for t in therapists), reverse=True)


def test_ask_filters_the_therapists(ask, directory):
    data = ask(QUESTION, "--language", "french", "--format", "online", "--json").json()
    assert data["therapists"]
    for t in data["therapists"]:
        entry = directory[t["id"]]
        assert "French" in entry.languages and "online" in entry.formats


def test_ask_batch_prints_one_object_per_line_in_order(ask, tmp_path):
    questions = [QUESTION, "what is transference", OFF_TOPIC, "how much does therapy cost"]
    batch = tmp_path / "questions.txt"
    batch.write_text("\n".join(questions[:2]) + "\n\n" + "\n".join(questions[2:]) + "\n", encoding="utf-8")
    run = ask("--batch", batch, "--json")
    assert run.code == 0 and run.err == ""
    lines = run.json_lines()
    assert [line["query"] for line in lines] == questions
    assert all(set(line) == KEYS for line in lines)
    assert [line["abstained"] for line in lines] == [False, False, True, False]
    assert len(run.out.strip().splitlines()) == len(questions)


def test_an_off_topic_question_abstains(ask):
    data = ask(OFF_TOPIC, "--json").json()
    assert data["abstained"] is True and data["answer"] is None
    assert data["citations"] == [] and data["passages"] == [] and data["therapists"] == []
    assert ABSTAIN_MESSAGE in data["notices"]
    assert data["disclaimer"] == DISCLAIMER


def test_the_human_output_shows_answer_sources_therapists_and_disclaimer(ask):
    run = ask(QUESTION)
    assert run.code == 0 and run.err == ""
    out = run.out
    assert "Sources:" in out and "  [1] " in out
    assert "Therapists who work with this (sample data):" in out
    assert " ".join(out.split()).endswith(DISCLAIMER)  # last, re-wrapped for the terminal
    assert max(len(line) for line in out.splitlines() if not line.startswith("  ")) <= 100


def test_the_human_output_of_an_abstention_still_has_the_disclaimer(ask):
    run = ask(OFF_TOPIC)
    assert run.code == 0
    flat = " ".join(run.out.split())
    assert ABSTAIN_MESSAGE in flat and flat.endswith(DISCLAIMER)
    assert "Sources:" not in run.out


def test_a_crisis_question_shows_resources_first(ask):
    run = ask("I want to kill myself", "--json")
    data = run.json()
    assert data["crisis"]["detected"] is True and data["crisis"]["resources"]
    assert any("988" in (r["action"] + r["name"]).replace("-", "") for r in data["crisis"]["resources"])
    human = ask("I want to kill myself")
    assert data["crisis"]["tier"] == "concern" and data["crisis"]["message"]  # no time or means stated
    assert human.out.startswith(data["crisis"]["message"][:40]) and "Help is there any time:" in human.out
    assert human.out.index("9-8-8") < human.out.index("Sources") if "Sources" in human.out else True


def test_an_empty_question_is_a_one_line_error(ask):
    run = ask("   ")
    assert run.code == 1 and run.out == ""
    assert run.err.startswith("error: the question is empty") and len(run.err.splitlines()) == 1


def test_ask_needs_a_question_or_a_batch(ask):
    run = ask()
    assert run.code == 2 and "give a QUESTION or --batch FILE" in run.err
