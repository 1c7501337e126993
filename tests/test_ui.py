"""kb.ui: what the app puts into Markdown is escaped, linked safely and points at the right section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.ingest.chunking import chunk_document
from kb.ingest.loaders import load_document
from kb.records import ArticleMeta, Document
from kb.web.text import (
    PRACTICE_NAME,
    answer_markdown,
    apa_citation,
    article_sections,
    article_source,
    escape_markdown,
    find_section,
    highlight,
    link,
    linkify,
    phone_links,
    plain_to_markdown,
    query_terms,
    safe_url,
    sanitize_markdown,
)

from conftest import TRANSFERENCE_MD
from fakes import HashingEmbedder

UNESCAPED = re.compile(r"(?<!\\)[*_`<>\[\]$#|~:]")


def test_escaped_text_has_no_markdown_html_latex_or_directives_left():
    text = "**bold** <script>x</script> $E=mc^2$ [a](javascript:alert(1)) :red[alarm] # heading ![i](http://x/i.png)"
    escaped = escape_markdown(text)
    assert not UNESCAPED.search(escaped)
    assert re.sub(r"\\(.)", r"\1", escaped).replace("\u2060", "") == text  # nothing is lost, only escaped


def test_highlight_bolds_the_question_words_and_escapes_the_rest():
    terms = query_terms("What is transference?")
    assert terms == {"transfer"}
    out = highlight("Transference (the *old* pattern) is transferred_ to <b>new</b> people.", terms)
    assert out.startswith("**Transference** \\(the \\*old\\* pattern\\)")
    assert "**transferred\\_**" not in out and "\\<b\\>new\\</b\\>" in out
    assert highlight("Why do I keep doing this?", query_terms("why do I keep")) == "Why do I **keep** doing this?"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/a?b=c",
        "http://localhost:8501/x",
        "mailto:help@example.org",
        "tel:988",
        "/library?doc=a&section=b%20c",
    ],
)
def test_safe_urls_are_kept(url):
    assert safe_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,x",
        "//evil.example/x",
        "file:///etc/passwd",
        "vbscript:x",
        "relative/path",
        "https://a.b/x)y",
        "https://a.b/ x",
        "",
        "https://",
        "ftp://example.org",
    ],
)
def test_unsafe_urls_are_refused(url):
    assert safe_url(url) is None
    assert link("label", url) == "label"


def test_answer_markers_link_to_their_passage_cards():
    out = answer_markdown("Feelings move (sometimes). [1] Patterns repeat. [2]")
    assert out == "Feelings move \\(sometimes\\)\\. [\\[1\\]](#source-1) Patterns repeat\\. [\\[2\\]](#source-2)"


def test_phone_numbers_become_tap_to_call_links():
    assert phone_links("Call or text 9-8-8, any time") == "Call or text [9\\-8\\-8](tel:988), any time"
    assert (
        phone_links("Call 911 or go to the nearest emergency department")
        == "Call [911](tel:911) or go to the nearest emergency department"
    )


def test_apa_citation_names_practice_year_title_library_and_in_app_path():
    doc = Document(
        id="choosing",
        path="a.md",
        title="Why do I keep choosing people who hurt me?",
        text="",
        format="markdown",
        metadata=ArticleMeta(last_reviewed="2026-11-20"),
    )
    assert apa_citation(doc, "Is it really a choice?") == (
        f"{PRACTICE_NAME}. (2026). Why do I keep choosing people who hurt me? In Psychoeducation library. "
        "Retrieved from /library?doc=choosing&section=Is%20it%20really%20a%20choice%3F"
    )
    doc.metadata, doc.title = ArticleMeta(), "Sleep"
    assert (
        apa_citation(doc) == f"{PRACTICE_NAME}. (n.d.). Sleep. In Psychoeducation library. Retrieved from "
        "/library?doc=choosing"
    )


def rendered(markdown: str) -> list:
    """Every token a permissive CommonMark renderer makes of markdown (its own link check switched off)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True
    out, stack = [], md.parse(markdown)
    while stack:
        token = stack.pop()
        out.append(token)
        stack.extend(token.children or [])
    return out


def links(markdown: str) -> list[str]:
    return sorted(t.attrs["href"] for t in rendered(markdown) if t.type == "link_open")


def test_corpus_markdown_keeps_formatting_but_escapes_html_and_loses_images_unsafe_links_and_latex():
    body = (
        "**Bold** and a [safe link](https://example.org/a) and [local](/library?doc=x).\n"
        "<script>alert('x')</script><div onclick=\"x()\">text</div><!-- hidden -->\n"
        "![tracker](http://evil.example/p.png) [bad](javascript:alert(1)) <javascript:alert(1)>\n"
        "Fees run $100 to $200. See <https://example.org/ref>.\n"
        "![ref image][pic]\n\n[pic]: http://evil.example/ref.png\n"
    )
    out = sanitize_markdown(body)
    assert "**Bold**" in out and "[safe link](https://example.org/a)" in out and "[local](/library?doc=x)" in out
    for bad in ("<script", "<div", "<!--", "hidden", "evil.example", "](javascript", "(javascript", "(http://evil"):
        assert bad not in out
    assert "&lt;script&gt;alert\\('x'\\)&lt;/script&gt;" in out and "onclick" in out  # shown as the text it is
    assert "tracker" in out and "ref image" in out and "\\$100 to \\$200" in out
    assert links(out) == ["/library?doc=x", "https://example.org/a", "https://example.org/ref"]
    assert not {t.type for t in rendered(out)} & {"html_block", "html_inline", "image"}


@pytest.mark.parametrize(
    "body",
    [
        "[x]( javascript:alert(1) )",
        "[x](\tjavascript:alert(1)\n)",
        "[x](<javascript:alert(1)>)",
        "[x]( JaVaScRiPt:alert(1) 'title')",
        "[x](&#106;avascript:alert(1))",
        "[x](java&#x73;cript:alert(1))",
        "[x](javascript&colon;alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](file:///etc/passwd)",
        "[x](//evil.example/x)",
        "<javascript:alert(1)>",
        "[x][r]\n\n[r]: javascript:alert(1)",
        "[x][r]\n\n[r]: <javascript:alert(1)> 'title'",
        "**[x](javascript:alert(1))**",
        "> - [x](javascript:alert(1))",
        "[![x](https://evil.example/p.png)](javascript:alert(1))",
        "[a [b](javascript:alert(1)) c](https://ok.example)",
        '<a href="javascript:alert(1)">x</a>',
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        '<iframe src="https://evil.example"></iframe>',
        "<scr<script>ipt>alert(1)</script>",
        "<div>\n\n[x](javascript:alert(1))\n\n</div>",
        "`code` [x](javascript:alert(1))",
        "| a |\n|---|\n| [x](javascript:alert(1)) <b>b</b> |",
        "$$\\href{javascript:alert(1)}{x}$$",
        ":red[x] :smile:",
    ],
)
def test_hostile_markdown_keeps_no_unsafe_link_raw_html_or_image(body):
    out = sanitize_markdown(body)
    assert all(safe_url(href) for href in links(out)), links(out)
    assert not {t.type for t in rendered(out)} & {"html_block", "html_inline", "image"}
    assert "javascript:" not in out.lower() and "<script" not in out.lower()


def test_links_survive_whatever_their_spacing_or_parentheses():
    assert sanitize_markdown("[x](https://ok.example/a_(b))").strip() == "[x](https://ok.example/a_(b))"
    assert links(sanitize_markdown("[x]( https://ok.example/a )")) == ["https://ok.example/a"]
    assert links(sanitize_markdown("[x](<https://ok.example/a b>)")) == ["https://ok.example/a%20b"]
    assert links(sanitize_markdown("[mail](mailto:help@example.org) [call](tel:988)")) == [
        "mailto:help@example.org",
        "tel:988",
    ]
    assert sanitize_markdown("[x]( javascript:alert(1) )").strip() == "x"
    assert sanitize_markdown("[**bold** x](https://ok.example)").strip() == "[**bold** x](https://ok.example)"


def test_images_become_their_alt_text():
    assert sanitize_markdown("![A *calm* lake](https://evil.example/p.png)").strip() == "A calm lake"
    assert sanitize_markdown("![][r]\n\n[r]: https://evil.example/p.png").strip() == ""


def test_lists_quotes_code_headings_and_tables_keep_their_shape():
    body = (
        "Title\n=====\n\n- one\n- two\n  1. nested\n\n> quoted *word*\n\n```python\nx = '<b>'\n```\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n"
    )
    out = sanitize_markdown(body)
    assert out.startswith("# Title\n\n- one\n- two\n  1. nested\n\n> quoted *word*\n\n```python\nx = '<b>'\n```")
    assert "| a | b |\n| :--- | ---: |\n| 1 | 2 |" in out
    assert sanitize_markdown(out) == out  # writing it back changes nothing more


def test_addresses_in_escaped_text_are_not_live_links():
    for text in (
        "![x](http://evil.example.com/p.png)",
        "see https://evil.example.com or www.evil.example",
        "write to someone@evil.example",
    ):
        out = escape_markdown(text)
        assert not links(out)
        assert not re.search(r"https?://|www\.|@\w", re.sub(r"\\(.)", r"\1", out))  # what GFM would link


def test_text_from_html_or_pdf_is_escaped_with_its_bullets_kept():
    assert plain_to_markdown("Intro *x*\n- first [item]\n  - nested") == "Intro \\*x\\*\n- first \\[item\\]\n  - nested"


def test_references_link_their_addresses():
    assert (
        linkify("Shedler (2010). https://doi.org/10.1037/a0018378.")
        == "Shedler \\(2010\\)\\. [https\\://doi\\.org/10\\.1037/a0018378](https://doi.org/10.1037/a0018378)\\."
    )


def test_every_chunk_section_is_found_in_the_rendered_article(corpus: Path):
    doc = load_document(corpus / "articles" / "transference.md", corpus)
    text, is_markdown = article_source(corpus, doc)
    assert is_markdown and not text.startswith("---")
    sections = article_sections(text, doc.title, is_markdown)
    assert [s.path for s in sections] == [
        "",
        "What transference is",
        "In everyday life",
        "In everyday life > At work",
        "In everyday life > In love",
    ]
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


def test_article_sections_find_setext_headings_ignore_code_and_keep_reference_links():
    text = (
        "Intro with [a ref][r].\n\nFirst part\n----------\n\n```\n# not a heading\n```\n\n"
        "## Second *part*\n\nSee [the ref][r].\n\n[r]: https://example.org/r\n"
    )
    sections = article_sections(text, "Title", True)
    assert [(s.level, s.path) for s in sections] == [(0, ""), (2, "First part"), (2, "Second part")]
    assert "# not a heading" in sections[1].body
    assert (
        "[the ref](https://example.org/r)" in sections[2].body and "[a ref](https://example.org/r)" in sections[0].body
    )
