"""The shipped corpus: article schema, topic vocabulary, handouts, the golden set, and `kb validate` on it."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

from kb.evaluation.golden import load_golden
from kb.ingest.loaders import load_corpus, load_document
from kb.ingest.topics import load_topics

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "corpus"
GOLDEN = REPO / "tests" / "eval" / "questions.yaml"
FIELDS = ("id", "title", "summary", "topics", "audience", "last_reviewed", "reviewed_by", "references", "related")
REQUIRED_TOPICS = {
    "psychodynamic-therapy",
    "unconscious-and-defenses",
    "transference-and-relationship",
    "attachment-and-development",
    "evidence-and-outcomes",
    "therapy-process",
    "choosing-a-therapist",
    "depression",
    "anxiety",
    "trauma",
    "grief-and-loss",
    "relationships",
    "couples-and-intimacy",
    "family",
    "parenting",
    "self-esteem-and-shame",
    "self-sabotage-and-patterns",
    "addiction",
    "anger",
    "eating-concerns",
    "sleep",
    "stress-and-burnout",
    "life-transitions",
    "identity-and-oppression",
    "lgbtq2s",
    "self-harm-and-suicide",
    "crisis-support",
}


def read_article(path: Path) -> tuple[dict, str]:
    """Front matter and body of a Markdown article, read plainly (not through kb)."""
    raw = path.read_text(encoding="utf-8")
    assert raw.startswith("---\n"), f"{path.name}: no front matter"
    front, body = raw[4:].split("\n---\n", 1)
    return yaml.safe_load(front), body


@pytest.fixture(scope="module")
def articles() -> dict[str, tuple[dict, str]]:
    return {p.name: read_article(p) for p in sorted((SHIPPED / "articles").glob("*.md"))}


@pytest.fixture(scope="module")
def vocabulary() -> set[str]:
    return {t.id for t in load_topics(SHIPPED / "topics.yaml")}


@pytest.fixture(scope="module")
def loaded():
    """The shipped corpus through kb.ingest, loaded once."""
    return load_corpus(SHIPPED, {"topics.yaml", "therapists.yaml"})


@pytest.fixture(scope="module")
def corpus_ids(loaded) -> set[str]:
    assert loaded.failures == []
    return {d.id for d in loaded.documents}


# kb validate on the shipped corpus


def test_kb_validate_passes_on_the_shipped_corpus(run_kb):
    run = run_kb("validate", "--corpus", SHIPPED)
    assert run.err == ""
    assert run.code == 0
    assert run.out.startswith("checked ") and run.out.strip().endswith(": all valid")


# Articles


def test_at_least_45_markdown_articles_with_every_field(articles):
    assert len(articles) >= 45
    missing = {name: [f for f in FIELDS if not meta.get(f)] for name, (meta, _) in articles.items()}
    assert {name: fields for name, fields in missing.items() if fields} == {}


def test_at_least_ten_articles_for_clinicians(articles):
    audiences = Counter(meta["audience"] for meta, _ in articles.values())
    assert set(audiences) <= {"public", "clinician"}
    assert audiences["clinician"] >= 10


def test_article_topics_are_in_the_vocabulary(articles, vocabulary):
    unknown = {name: sorted(set(meta["topics"]) - vocabulary) for name, (meta, _) in articles.items()}
    assert {name: topics for name, topics in unknown.items() if topics} == {}


def test_references_are_listed_and_reviews_are_dated(articles):
    for name, (meta, _) in articles.items():
        assert isinstance(meta["references"], list) and all(str(r).strip() for r in meta["references"]), name
        assert isinstance(meta["last_reviewed"], dt.date), name
        assert str(meta["reviewed_by"]).strip() and str(meta["summary"]).strip(), name


def test_ids_are_unique_across_the_corpus(articles, loaded):
    ids = Counter(meta["id"] for meta, _ in articles.values())
    assert {i: n for i, n in ids.items() if n > 1} == {}
    assert not any("duplicate id" in f.reason for f in loaded.failures)


def test_related_ids_exist_and_are_not_the_article_itself(articles, corpus_ids):
    for name, (meta, _) in articles.items():
        assert set(meta["related"]) <= corpus_ids, (name, sorted(set(meta["related"]) - corpus_ids))
        assert meta["id"] not in meta["related"], name


def test_bodies_are_600_to_1800_words(articles):
    words = {name: len(body.split()) for name, (_, body) in articles.items() if not name.startswith("faq-")}
    assert {name: n for name, n in words.items() if not 600 <= n <= 1800} == {}


def test_faq_pages_are_short_question_sections(articles):
    """An FAQ page is many short sections, each headed by a visitor's question and answered by its opening."""
    faqs = {name: body for name, (_, body) in articles.items() if name.startswith("faq-")}
    assert len(faqs) >= 7
    for name, body in faqs.items():
        sections = re.split(r"^## ", body, flags=re.M)[1:]
        assert len(sections) >= 15, name
        for section in sections:
            heading, _, text = section.partition("\n")
            assert heading.rstrip().endswith("?"), (name, heading)
            assert 60 <= len(text.split()) <= 250, (name, heading, len(text.split()))


def test_at_least_two_pdf_handouts_load_with_text():
    pdfs = sorted((SHIPPED / "handouts").glob("*.pdf"))
    assert len(pdfs) >= 2
    for path in pdfs:
        doc = load_document(path, SHIPPED)
        assert doc.format == "pdf" and len(doc.text.split()) > 100, path.name
        assert doc.page_starts and doc.titled, path.name


def test_at_least_one_html_article_loads_with_its_metadata(vocabulary, corpus_ids):
    pages = sorted(SHIPPED.rglob("*.htm*"))
    assert pages
    for path in pages:
        doc = load_document(path, SHIPPED)
        assert doc.format == "html" and len(doc.text.split()) > 300, path.name
        assert doc.title and doc.topics and set(doc.topics) <= vocabulary, path.name
        assert doc.metadata.references and doc.metadata.summary, path.name
        assert set(doc.metadata.related or []) <= corpus_ids
        assert "<" not in doc.text  # markup is gone


# Topics


def test_topics_yaml_holds_the_required_vocabulary():
    topics = load_topics(SHIPPED / "topics.yaml")
    assert {t.id for t in topics} >= REQUIRED_TOPICS
    assert {t.kind for t in topics} <= {"concern", "approach", "practical"}
    assert all(t.label and t.description for t in topics)


def test_every_topic_has_an_article(articles, vocabulary):
    used = {t for meta, _ in articles.values() for t in meta["topics"]}
    assert vocabulary - used == set()


# The golden question set


@pytest.fixture(scope="module")
def golden():
    return load_golden(GOLDEN)


def test_the_golden_set_is_large_and_covers_every_kind(golden):
    kinds = Counter(item.kind for item in golden)
    assert len(golden) >= 160
    assert set(kinds) == {"answerable", "off-topic", "crisis", "near-miss"}
    assert kinds["off-topic"] >= 20 and kinds["crisis"] >= 20 and kinds["near-miss"] >= 20


def test_golden_items_are_well_formed(golden, vocabulary):
    assert len({item.id for item in golden}) == len(golden)
    assert len({item.question.strip().lower() for item in golden}) == len(golden)
    for item in golden:
        assert item.question.strip(), item.id
        assert set(item.expected_topics) <= vocabulary, item.id
        if item.kind == "answerable":
            assert item.expected_articles, item.id
        if item.kind == "off-topic":
            assert not item.expected_articles, item.id
        if item.kind == "crisis":
            assert item.crisis_type, item.id


def test_every_expected_article_exists(golden, corpus_ids):
    missing = {item.id: sorted(set(item.expected_articles) - corpus_ids) for item in golden}
    assert {i: m for i, m in missing.items() if m} == {}


# kb validate reports a bad article in a copy of the corpus

ARTICLE = "articles/anger.md"


def copy_with_change(tmp_path: Path, name: str, value) -> Path:
    """A copy of the shipped corpus (without its slow-to-read PDFs) where ARTICLE's field is changed
    (... deletes it)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SHIPPED, corpus, ignore=shutil.ignore_patterns("*.pdf"))
    meta, body = read_article(corpus / ARTICLE)
    if value is ...:
        del meta[name]
    else:
        meta[name] = value
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    (corpus / ARTICLE).write_text(f"---\n{front}---\n{body}", encoding="utf-8")
    return corpus


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("summary", ..., "field 'summary' is missing or empty"),
        ("topics", ["anger", "astrology"], "field 'topics': 'astrology' is not in the topic vocabulary"),
        ("related", ["defence-mechanisms", "no-such-article"], "field 'related': no article with id 'no-such-article'"),
        ("last_reviewed", "next spring", "field 'last_reviewed': 'next spring' is not a date"),
        ("references", [], "field 'references' is missing or empty"),
        ("audience", "everyone", "field 'audience': 'everyone' is not one of public, clinician"),
    ],
)
def test_validate_reports_a_bad_article_in_one_line(tmp_path, run_kb, name, value, words):
    corpus = copy_with_change(tmp_path, name, value)
    run = run_kb("validate", "--corpus", corpus)
    assert run.code == 1
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{ARTICLE}: {words}"), run.err
    assert run.out.strip().endswith("1 problems")


def test_validate_json_names_the_file_and_the_field(tmp_path, run_kb):
    corpus = copy_with_change(tmp_path, "topics", ["astrology"])
    run = run_kb("validate", "--corpus", corpus, "--json")
    assert run.code == 1
    assert run.json()["problems"] == [
        {"path": ARTICLE, "reason": "field 'topics': 'astrology' is not in the topic vocabulary"}
    ]
