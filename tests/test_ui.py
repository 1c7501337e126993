"""kb.ui: what the app puts into Markdown is escaped, linked safely and points at the right section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import TRANSFERENCE_MD
from kb.ingest.chunking import chunk_document
from kb.models.embedders import HashingEmbedder
from kb.ingest.loaders import load_document
from kb.records import Document
from kb.web.text import (PRACTICE_NAME, answer_markdown, apa_citation, article_sections, article_source, escape_markdown,
                   find_section, highlight, link, linkify, phone_links, plain_to_markdown, query_terms, safe_url,
                   sanitize_markdown)

UNESCAPED = re.compile(r"(?<!\\)[*_`<>\[\]$#|~:]")


def test_escaped_text_has_no_markdown_html_latex_or_directives_left():
    text = "**bold** <script>x</script> $E=mc^2$ [a](javascript:alert(1)) :red[alarm] # heading ![i](http://x/i.png)"
    escaped = escape_markdown(text)
    assert not UNESCAPED.search(escaped)
    assert re.sub(r"\\(.)", r"\1", escaped) == text  # nothing is lost, only escaped


def test_highlight_bolds_the_question_words_and_escapes_the_rest():
    terms = query_terms("What is transference?")
    assert terms == {"transfer"}
    out = highlight("Transference (the *old* pattern) is transferred_ to <b>new</b> people.", terms)
    assert out.startswith("**Transference** \\(the \\*old\\* pattern\\)")
    assert "**transferred\\_**" not in out and "\\<b\\>new\\</b\\>" in out
    assert highlight("Why do I keep doing this?", query_terms("why do I keep")) == \
        "Why do I **keep** doing this?"


@pytest.mark.parametrize("url", ["https://example.org/a?b=c", "http://localhost:8501/x", "mailto:help@example.org",
                                 "tel:988", "/library?doc=a&section=b%20c"])
def test_safe_urls_are_kept(url):
    assert safe_url(url) == url


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "//evil.example/x",
                                 "file:///etc/passwd", "vbscript:x", "relative/path", "https://a.b/x)y",
                                 "https://a.b/ x", "", "https://", "ftp://example.org"])
def test_unsafe_urls_are_refused(url):
    assert safe_url(url) is None
    assert link("label", url) == "label"


def test_answer_markers_link_to_their_passage_cards():
    out = answer_markdown("Feelings move (sometimes). [1] Patterns repeat. [2]")
    assert out == "Feelings move \\(sometimes\\)\\. [\\[1\\]](#source-1) Patterns repeat\\. [\\[2\\]](#source-2)"


def test_phone_numbers_become_tap_to_call_links():
    assert phone_links("Call or text 9-8-8, any time") == "Call or text [9\\-8\\-8](tel:988), any time"
    assert phone_links("Call 911 or go to the nearest emergency department") == \
        "Call [911](tel:911) or go to the nearest emergency department"


def test_apa_citation_names_practice_year_title_library_and_in_app_path():
    doc = Document(id="choosing", path="a.md", title="Why do I keep choosing people who hurt me?", text="",
                   format="markdown", metadata={"last_reviewed": "2026-11-20"})
    assert apa_citation(doc, "Is it really a choice?") == (
        f"{PRACTICE_NAME}. (2026). Why do I keep choosing people who hurt me? In Psychoeducation library. "
        "Retrieved from /library?doc=choosing&section=Is%20it%20really%20a%20choice%3F")
    doc.metadata, doc.title = {}, "Sleep"
    assert apa_citation(doc) == f"{PRACTICE_NAME}. (n.d.). Sleep. In Psychoeducation library. Retrieved from " \
        "/library?doc=choosing"


def test_corpus_markdown_keeps_formatting_but_loses_html_images_unsafe_links_and_latex():
    body = ("**Bold** and a [safe link](https://example.org/a) and [local](/library?doc=x).\n"
            "<script>alert('x')</script><div onclick=\"x()\">text</div><!-- hidden -->\n"
            "![tracker](http://evil.example/p.png) [bad](javascript:alert(1)) <javascript:alert(1)>\n"
            "Fees run $100 to $200. See <https://example.org/ref>.\n"
            "![ref image][pic]\n\n[pic]: http://evil.example/ref.png\n")
    out = sanitize_markdown(body)
    assert "**Bold**" in out and "[safe link](https://example.org/a)" in out and "[local](/library?doc=x)" in out
    for bad in ("<script", "<div", "onclick", "<!--", "evil.example", "](javascript", "(javascript"):
        assert bad not in out
    assert "tracker" in out and "text" in out and "\\$100 to \\$200" in out
    assert "https://example.org/ref" in out and "\\<javascript" in out


def test_text_from_html_or_pdf_is_escaped_with_its_bullets_kept():
    assert plain_to_markdown("Intro *x*\n- first [item]\n  - nested") == \
        "Intro \\*x\\*\n- first \\[item\\]\n  - nested"


def test_references_link_their_addresses():
    assert linkify("Shedler (2010). https://doi.org/10.1037/a0018378.") == \
        "Shedler \\(2010\\)\\. [https\\://doi\\.org/10\\.1037/a0018378](https://doi.org/10.1037/a0018378)\\."


def test_every_chunk_section_is_found_in_the_rendered_article(corpus: Path):
    doc = load_document(corpus / "articles" / "transference.md", corpus)
    text, is_markdown = article_source(corpus, doc)
    assert is_markdown and not text.startswith("---")
    sections = article_sections(text, doc.title, is_markdown)
    assert [s.path for s in sections] == ["", "What transference is", "In everyday life",
                                          "In everyday life > At work", "In everyday life > In love"]
    for chunk in chunk_document(doc, HashingEmbedder().count_tokens, 64, 0):
        found = find_section(sections, chunk.section)
        assert (found is None) == (chunk.section == ""), chunk.section
    assert sections[find_section(sections, "At work")].heading == "At work"  # by its last heading
    assert find_section(sections, "No such heading") is None


def test_article_source_falls_back_to_the_indexed_text(corpus: Path, tmp_path: Path):
    doc = load_document(corpus / "articles" / "transference.md", corpus)
    doc.path = "../outside.md"
    (tmp_path / "outside.md").write_text(TRANSFERENCE_MD, encoding="utf-8")
    assert article_source(corpus, doc) == (doc.text, False)  # never reads outside the corpus
    doc.path = "articles/gone.md"
    assert article_source(corpus, doc) == (doc.text, False)
