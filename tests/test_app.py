"""The Streamlit app, page by page, with streamlit.testing.v1.AppTest and the real bundled model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Node

from kb.answering.compose import ABSTAIN_MESSAGE
from kb.index.store import current_build, read_documents, read_manifest
from kb.web.text import PRACTICE_NAME, escape_markdown

from conftest import REPO, TOPICS_YAML, TRANSFERENCE_MD

pytestmark = pytest.mark.slow

APP = str(REPO / "app.py")
TIMEOUT = 300  # the first run in a process loads the model and warms the knowledge base


def elements(node: Node) -> Iterator[Node]:
    """Every element under node, in the order the page shows them."""
    if isinstance(node, Block):
        for key in sorted(node.children):
            yield from elements(node.children[key])
    else:
        yield node


def texts(at: AppTest) -> list[str]:
    return [str(getattr(el, "value", "")) for el in elements(at.main)]


def links(at: AppTest) -> list[tuple[str, str, str]]:
    """(label, page, query string) of every page link on the page."""
    return [(el.value, el.proto.page, el.proto.query_string) for el in at.page_link]


def open_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT).run()


def open_page(page: str, **query: str) -> AppTest:
    at = open_app()
    at.switch_page(f"pages/{page}.py")
    at.query_params.update(query)
    return at.run()


def ask(at: AppTest, question: str) -> AppTest:
    at.text_input(key="question").input(question)
    return next(b for b in at.button if b.label == "Ask").click().run()


def assert_no_unsafe_html(at: AppTest) -> None:
    for el in elements(at.main):
        assert not getattr(getattr(el, "proto", None), "allow_html", False), el
    assert not at.exception, at.exception


def test_a_question_gets_a_cited_answer_with_sources_and_therapists(app_env):
    at = ask(open_app(), "Why do I keep choosing people who hurt me?")
    shown = texts(at)
    assert "Answer" in [h.value for h in at.header]
    answer = shown[shown.index("Answer") + 1]
    assert "[\\[1\\]](#source-1)" in answer
    cards = [h for h in at.subheader if h.proto.anchor.startswith("source-")]
    assert [h.proto.anchor for h in cards] == [f"source-{n}" for n in range(1, len(cards) + 1)]
    articles = [q for label, page, q in links(at) if page == "library" and q.startswith("doc=")]
    assert len(articles) == len(cards) and any("&section=" in q for q in articles)
    assert any("**" in text for text in shown if text.startswith("> "))  # the question's words highlighted
    profiles = [q for label, page, q in links(at) if page == "therapists" and q.startswith("id=")]
    assert len(profiles) == 3
    assert any(label == "Browse the therapist directory" for label, _, _ in links(at))
    assert any("not therapy, diagnosis or an emergency service" in i.value for i in at.info)
    assert dict(at.query_params) == {}  # the question never reaches the URL
    assert_no_unsafe_html(at)


def test_an_example_button_asks_its_question(app_env):
    at = open_app()
    next(b for b in at.button if b.label == "What is transference?").click().run()
    assert at.text_input(key="question").value == "What is transference?"
    assert "Answer" in [h.value for h in at.header]


def test_an_off_topic_question_abstains_with_topics_and_the_directory(app_env):
    at = ask(open_app(), "how do I change a car tire")
    assert any(i.value == escape_markdown(ABSTAIN_MESSAGE) for i in at.info)
    headers = [h.value for h in at.header]
    assert "Answer" not in headers and "Topics you could browse" in headers
    assert any(page == "library" and q.startswith("topic=") for _, page, q in links(at))
    assert any(label == "Browse the therapist directory" for label, _, _ in links(at))
    assert any("emergency service" in i.value for i in at.info)


def test_a_crisis_question_shows_the_crisis_panel_before_the_answer(app_env):
    at = ask(open_app(), "I want to kill myself")
    shown = texts(at)
    heading = "Support is here any time"  # a wish to die without a time or means: the calm concern panel
    assert heading in shown and "Please get help now" not in shown
    panel = shown.index(heading)
    if "Answer" in shown:
        assert panel < shown.index("Answer")
    assert panel < shown.index(
        "Therapists who work with this" if "Therapists who work with this" in shown else "Talk with a therapist"
    )
    resources = shown[panel + 2]
    assert "9\\-8\\-8](tel:988)" in resources and "911](tel:911)" in resources
    assert any(e.label == "Worried about someone else?" for e in at.expander)


def test_an_empty_question_gets_a_clear_message(app_env):
    at = ask(open_app(), "   ")
    assert [w.value for w in at.warning] == ["The question is empty; type a few words, e.g. 'what is transference?'"]
    assert "Answer" not in [h.value for h in at.header]


def test_sidebar_filters_reach_the_search(app_env):
    documents = read_documents(current_build(app_env.index))

    def cited(at: AppTest) -> list:
        ids = {q.split("&")[0][4:] for _, page, q in links(at) if page == "library" and q.startswith("doc=")}
        return [documents[i] for i in ids]

    at = open_app()
    at.sidebar.selectbox(key="ask_audience").set_value("clinician")
    docs = cited(ask(at, "what is transference?"))
    assert docs and all(d.audience == "clinician" for d in docs)
    at.sidebar.selectbox(key="ask_audience").set_value(None)
    at.sidebar.selectbox(key="ask_topic").set_value("therapy-process")
    docs = cited(ask(at, "why do I feel angry at my therapist?"))
    assert docs and all("therapy-process" in d.topics for d in docs)


def test_the_clinician_view_shows_scores_passages_citations_and_a_download(app_env):
    at = ask(open_app(), "What is transference?")
    assert not at.code and not at.get("download_button")
    at.sidebar.toggle(key="clinician").set_value(True).run()
    assert any("dense\\_score" in c.value and "bm25\\_score" in c.value for c in at.caption)
    assert any(t.startswith("**Full passage**\n\n") for t in texts(at))
    citation = at.code[0].value
    assert citation.startswith(f"{PRACTICE_NAME}. (20")
    assert re.search(r"[.?!] In Psychoeducation library\. Retrieved from /library\?doc=\S+$", citation)
    download = at.get("download_button")[0]
    assert download.proto.label == "Download as Markdown"
    assert "Retrieved passages" in [h.value for h in at.header]


def test_the_library_lists_articles_of_a_topic(app_env):
    at = open_page("library", topic="grief-and-loss")
    assert at.title[0].value == "Library"
    assert at.selectbox[0].value == "grief-and-loss"
    listed = [q for _, page, q in links(at) if page == "library"]
    assert "doc=grief-and-loss" in listed and "doc=anger" not in listed
    assert_no_unsafe_html(at)


def test_an_article_opened_from_a_citation_marks_the_cited_section(app_env):
    at = open_page("library", doc="transference-in-everyday-life", section="What is transference?")
    assert at.title[0].value.startswith("Transference\\: old relationships")
    assert any(i.value.startswith("You came here from a citation: **What is transference?**") for i in at.info)
    cited = [h for h in at.header if h.proto.anchor == "cited-section"]
    assert [h.value for h in cited] == ["What is transference?"]
    assert "Cited section" in [c.value for c in at.caption]
    assert any("Last reviewed 2026" in c.value and "editorial team" in c.value for c in at.caption)
    assert "References" in [h.value for h in at.header] and "Related articles" in [h.value for h in at.header]
    assert any(q == "doc=the-therapeutic-relationship" for _, _, q in links(at))
    assert_no_unsafe_html(at)


def test_an_unknown_article_says_so(app_env):
    at = open_page("library", doc="no-such-article")
    assert at.title[0].value == "Article not found"


def test_the_directory_filters_and_labels_sample_data(app_env):
    at = open_page("therapists")
    assert at.warning[0].value.startswith("Sample data: fictional therapists")
    everyone = len([1 for _, _, q in links(at) if q.startswith("id=")])
    at.selectbox(key="language").set_value("French")
    at.checkbox(key="accepting").check().run()
    french = [q for _, _, q in links(at) if q.startswith("id=")]
    assert 0 < len(french) < everyone
    at.number_input(key="max_fee").set_value(50).run()
    assert any(m.value.startswith("**0 of") for m in at.markdown)


def test_a_therapist_profile_shows_bio_details_and_link(app_env):
    at = open_page("therapists", id="amara-okafor")
    assert at.header[0].value == "Amara Okafor, RP"
    details = texts(at)
    assert any("Lagos and Toronto" in t for t in details)
    assert any("**Specialties:**" in t and "**Languages:**" in t and "**Fee:**" in t for t in details)
    assert "[Full profile on the directory website](https://example.org/therapists/amara-okafor)" in details
    assert at.warning[0].value.startswith("Sample data: fictional therapists")


def test_the_about_page_covers_privacy_crisis_help_and_the_index(app_env):
    at = open_page("about")
    shown = "\n".join(texts(at))
    assert "not stored, logged or sent anywhere" in shown and "No telemetry" in shown and "offline" in shown
    assert "9\\-8\\-8](tel:988)" in shown
    assert "all\\-MiniLM\\-L6\\-v2" in shown and "**Chunks:**" in shown and "**Built at:**" in shown
    assert "**Documents changed since the build:** 0" in shown
    assert at.code[0].value == "kb index"


HOSTILE_MD = """\
---
id: hostile
title: A <b>hostile</b> article
summary: Tries every trick.
topics: [sleep]
---
# A hostile article

Sleep well. <script>alert('x')</script> ![tracker](http://evil.example/pixel.png) costs $5 to $10.
[click me](javascript:alert(1)) and <img src="http://evil.example/i.png"> and [fine](https://example.org/ok).
"""


def test_a_missing_index_is_built_at_start_and_hostile_text_is_shown_as_text(
    tmp_path: Path, real_model, monkeypatch: pytest.MonkeyPatch
):
    corpus = tmp_path / "corpus"
    (corpus / "articles").mkdir(parents=True)
    (corpus / "topics.yaml").write_text(TOPICS_YAML, encoding="utf-8")
    (corpus / "articles" / "transference.md").write_text(TRANSFERENCE_MD, encoding="utf-8")
    (corpus / "articles" / "hostile.md").write_text(HOSTILE_MD, encoding="utf-8")
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("KB_CORPUS", str(corpus))
    monkeypatch.setenv("KB_INDEX", str(tmp_path / "index"))
    monkeypatch.setattr("kb.web.views.load_embedder", lambda settings: real_model)

    at = open_app()
    assert read_manifest(tmp_path / "index").document_count == 2
    assert any("Search index ready: 2 documents" in t.value for t in at.toast)
    at.switch_page("pages/library.py")
    at.query_params["doc"] = "hostile"
    at.run()
    shown = "\n".join(texts(at))
    for bad in ("<script", "<img", "<b>", "evil.example", "javascript:", "](http://evil"):
        assert bad not in shown
    assert "\\$5 to \\$10" in shown and "[fine](https://example.org/ok)" in shown
    assert_no_unsafe_html(at)
