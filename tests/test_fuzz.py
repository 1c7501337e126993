"""Property-based tests (hypothesis) of the two places untrusted text enters: the Markdown sanitizer that
article bodies pass through before st.markdown, and the question cleaner every question passes through.

The sanitizer's output is parsed by markdown-it (CommonMark) with its own link check switched off, so the
test sees every link a permissive renderer would make.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kb.answering.compose import MAX_QUERY_CHARS, clean_query
from kb.errors import InputError
from kb.web.text import safe_url, sanitize_markdown

FRAGMENTS = [
    "[",
    "]",
    "(",
    ")",
    "![",
    "<",
    ">",
    "</",
    "/>",
    "script",
    "img src=x onerror=alert(1)",
    "javascript:",
    "JaVaScRiPt:",
    "vbscript:",
    "data:text/html,",
    "http://",
    "https://example.org/a_(b)",
    "mailto:x@y",
    " ",
    "\n",
    "\t",
    "`",
    "*",
    "_",
    "#",
    "$",
    "\\",
    "&#106;",
    "&lt;",
    "<!--",
    "-->",
    '"',
    "'",
    ":",
    "//",
    "[x]: javascript:alert(1)",
    "<https://example.org>",
    "<javascript:alert(1)>",
    "\u00a0",
    "\u200b",
]
hostile_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=30).map("".join)
FAST = settings(
    max_examples=300,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow],
)


def rendered_tokens(markdown: str) -> list:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    md.validateLink = lambda url: True  # see every link, not only those markdown-it itself would allow
    out, stack = [], md.parse(markdown)
    while stack:
        token = stack.pop()
        out.append(token)
        stack.extend(token.children or [])
    return out


@FAST
@given(hostile_text)
@example("<script>alert(1)</script>")
@example("<img src=x onerror=alert(1)>")
@example("![x](https://evil.example.com/p.png)")
def test_sanitized_markdown_has_no_raw_html_and_no_images(text):
    kinds = {t.type for t in rendered_tokens(sanitize_markdown(text))}
    assert not kinds & {"html_block", "html_inline", "image"}


@FAST
@given(hostile_text)
@example("[y]( javascript:alert(2) )")
def test_sanitized_markdown_links_only_to_safe_addresses(text):
    for token in rendered_tokens(sanitize_markdown(text)):
        if token.type == "link_open":
            assert safe_url(token.attrs["href"]) is not None, token.attrs["href"]


@FAST
@given(st.text() | hostile_text)
@example("a" * (MAX_QUERY_CHARS + 50))
@example("\x00\n\t ")
def test_a_cleaned_question_is_one_trimmed_line_within_the_limit(question):
    if not question.strip():
        with pytest.raises(InputError, match="the question is empty"):
            clean_query(question)
        return
    text, notices = clean_query(question)
    assert text == text.strip() and "\n" not in text and "\r" not in text and "\t" not in text
    assert len(text) <= MAX_QUERY_CHARS
    assert " ".join(question.split()).startswith(text)
    assert all(isinstance(n, str) and "\n" not in n for n in notices)
