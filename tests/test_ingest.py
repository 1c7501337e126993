"""Loading a corpus folder: Markdown, HTML, PDF and text become Documents; bad files become Failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.errors import InputError
from kb.ingest.loaders import clean_markdown, load_corpus, load_document, split_front_matter
from kb.records import ArticleMeta

from conftest import DOC_IDS, write_files


def load_one(root: Path, rel: str, data: bytes | str):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return load_document(path, root)


# Markdown


def test_markdown_front_matter_sets_id_title_and_metadata(corpus):
    doc = load_document(corpus / "articles/transference.md", corpus)
    assert doc.id == "transference-basics"
    assert doc.title == "Transference in everyday life"
    assert doc.path == "articles/transference.md"
    assert doc.format == "markdown"
    assert doc.topics == ["transference-and-relationship"]
    assert doc.audience == "public"
    assert doc.metadata.last_reviewed == "2026-01-15"  # dates become ISO text
    assert "id" not in doc.metadata.to_json() and "title" not in doc.metadata.to_json()
    assert not doc.text.startswith("---") and "reviewed_by" not in doc.text
    assert doc.text.startswith("# Transference in everyday life")
    assert len(doc.content_hash) == 64


def test_markdown_without_front_matter_uses_path_and_first_heading(tmp_path):
    text = "Intro line.\n\n## Breathing slowly\n\nBreathe out longer than in.\n"
    doc = load_one(tmp_path, "guides/coping/panic.md", text)
    assert doc.id == "guides/coping/panic"  # relative path without extension
    assert doc.title == "Breathing slowly"
    assert doc.metadata == ArticleMeta() and doc.metadata.to_json() == {}


def test_a_file_name_with_spaces_still_gives_its_path_as_id(tmp_path, stress_pdf):
    # A PDF or text file has no front matter, so its path is the only id it can have.
    assert load_one(tmp_path, "handouts/Coping Skills.pdf", stress_pdf).id == "handouts/Coping Skills"
    assert load_one(tmp_path, "notes/my notes.txt", "Some notes.").id == "notes/my notes"


def test_title_falls_back_to_file_name(tmp_path):
    doc = load_one(tmp_path, "notes/quiet-evening.md", "No heading at all, only a sentence.\n")
    assert doc.title == "quiet-evening"


def test_front_matter_title_beats_first_heading(tmp_path):
    doc = load_one(tmp_path, "a.md", "---\ntitle: From front matter\n---\n# From heading\n\nText.\n")
    assert doc.title == "From front matter"


def test_empty_front_matter_block_is_allowed(tmp_path):
    doc = load_one(tmp_path, "empty-fm.md", "---\n---\n# Heading\n\nBody text here.\n")
    assert doc.id == "empty-fm"
    assert doc.title == "Heading"
    assert "Body text here." in doc.text


def test_topics_as_comma_text_become_a_list(tmp_path):
    doc = load_one(tmp_path, "a.md", "---\ntopics: sleep, anger\n---\nText.\n")
    assert doc.topics == ["sleep", "anger"]


def test_split_front_matter_returns_body_after_closing_fence():
    meta, body = split_front_matter("---\nid: x\n---\n# T\n\nBody\n")
    assert meta == {"id": "x"}
    assert body == "# T\n\nBody\n"


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("---\ntitle: [unclosed\n---\nText\n", "invalid YAML at line 2"),
        ("---\ntitle: x\nno closing fence\n", "no closing"),
        ("---\n- a\n- b\n---\nText\n", "must be a mapping"),
        ("---\ntopics: {a: 1}\n---\nText\n", "field 'topics'"),
        ("---\nid: ../escape\n---\nText\n", "not a valid id"),
        ("---\nsummary: [a, b]\n---\nText\n", "field 'summary': must be text"),
        ("---\nreferences: [[nested]]\n---\nText\n", "field 'references': must be a list of text"),
        ("---\naudience: true\n---\nText\n", "field 'audience': must be text"),
        ("---\nsumary: a typo\n---\nText\n", "field 'sumary': not a front matter field \\(use id, title, summary"),
    ],
)
def test_bad_front_matter_names_the_problem(tmp_path, raw, reason):
    with pytest.raises(InputError, match=reason.replace("[", r"\[")) as caught:
        load_one(tmp_path, "bad.md", raw)
    assert "\n" not in str(caught.value)


def test_front_matter_numbers_and_dates_are_stored_as_text(tmp_path):
    doc = load_one(tmp_path, "n.md", "---\nid: 2024\nlast_reviewed: 2026-01-15\nreviewed_by: 7\nurl: ~\n---\nText\n")
    assert doc.id == "2024" and doc.metadata.to_json() == {"last_reviewed": "2026-01-15", "reviewed_by": "7"}


def test_a_single_reference_is_a_list_of_one(tmp_path):
    doc = load_one(tmp_path, "r.md", "---\nreferences: Freud, S. (1912). The dynamics of transference.\n---\nText\n")
    assert doc.metadata.references == ["Freud, S. (1912). The dynamics of transference."]


def test_clean_markdown_drops_inline_marks_but_keeps_headings_and_lists():
    text = clean_markdown("# Head\n\nSome **bold**, _it_, `code` and [a link](http://x.org).\n\n* item one\n> quoted\n")
    assert text == "# Head\n\nSome bold, it, code and a link.\n\n- item one\nquoted"


# HTML


PAGE = """<!doctype html>
<html><head><title>Panic attacks</title>
<meta name="kb:topics" content="anxiety, panic"><meta name="kb:audience" content="public">
<style>body { color: red }</style><script>var tracking = "SCRIPTTEXT";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/about">NAVTEXT</a></nav>
<header>HEADERTEXT banner</header>
<main>
  <h1>What a panic attack is</h1>
  <p>A panic attack is a sudden wave of fear. It peaks within minutes.</p>
  <h2>What helps</h2>
  <ul><li>Slow breathing</li><li>Naming five things you can see</li></ul>
  <script>console.log("INLINESCRIPT")</script>
</main>
<footer>FOOTERTEXT</footer>
</body></html>"""


def test_html_keeps_main_text_and_headings_and_drops_chrome(tmp_path):
    doc = load_one(tmp_path, "web/panic.html", PAGE)
    assert doc.format == "html"
    assert doc.id == "web/panic"
    assert doc.title == "Panic attacks"
    assert doc.topics == ["anxiety", "panic"]
    assert "# What a panic attack is" in doc.text
    assert "## What helps" in doc.text
    assert "A panic attack is a sudden wave of fear. It peaks within minutes." in doc.text
    assert "- Slow breathing" in doc.text
    for dropped in ("SCRIPTTEXT", "INLINESCRIPT", "NAVTEXT", "HEADERTEXT", "FOOTERTEXT", "color: red"):
        assert dropped not in doc.text


def test_html_without_main_drops_navigation_header_footer_and_aside(tmp_path):
    page = (
        "<html><body><header><h1>SITE BANNER</h1></header><nav><ul><li>NAV HOME</li><li>NAV ABOUT</li></ul></nav>"
        "<h1>Coping with loss</h1><p>Grief comes in waves.</p><aside><p>ASIDE AD</p></aside>"
        "<footer><p>FOOTER NOTE</p></footer></body></html>"
    )
    doc = load_one(tmp_path, "loss.html", page)
    assert doc.text == "# Coping with loss\n\nGrief comes in waves."
    assert doc.title == "Coping with loss"


def test_html_without_title_tag_uses_first_heading(tmp_path):
    doc = load_one(tmp_path, "x.htm", "<body><h2>Only heading</h2><p>Body.</p></body>")
    assert doc.title == "Only heading"


# PDF


def test_pdf_text_per_page_with_page_starts(tmp_path, stress_pdf):
    doc = load_one(tmp_path, "handouts/stress.pdf", stress_pdf)
    assert doc.format == "pdf"
    assert doc.id == "handouts/stress"
    assert doc.title == "Stress guide"  # from the PDF's metadata
    assert doc.page_starts is not None and len(doc.page_starts) == 2
    first, second = doc.text[: doc.page_starts[1]], doc.text[doc.page_starts[1] :]
    assert "wears a person down" in first and "wears a person down" not in second
    assert second.startswith("## Rest and recovery")
    # layout lines are joined back into one paragraph
    assert "It helps in short bursts but wears a person down when it lasts for months." in doc.text


def test_pdf_without_title_metadata_uses_first_heading(tmp_path, make_pdf):
    data = make_pdf([["# Grounding exercises", "Press your feet into the floor and notice the weight of your body."]])
    assert load_one(tmp_path, "g.pdf", data).title == "Grounding exercises"


def test_pdf_unlocked_with_empty_user_password_is_read(tmp_path, stress_pdf):
    from conftest import encrypted_pdf_bytes

    doc = load_one(tmp_path, "open.pdf", encrypted_pdf_bytes(stress_pdf, user_password=""))
    assert "Recovery needs real breaks." in doc.text


# Plain text


def test_plain_text_document(tmp_path):
    doc = load_one(tmp_path, "notes/breathing.txt", "Breathe in for four.\r\nBreathe out for six.\r\n")
    assert doc.format == "text"
    assert doc.id == "notes/breathing"
    assert doc.title == "breathing"
    assert doc.text == "Breathe in for four.\nBreathe out for six."


def test_utf8_bom_is_accepted(tmp_path):
    doc = load_one(tmp_path, "bom.txt", "\ufeffHello there.".encode("utf-8"))
    assert doc.text == "Hello there."


# The corpus folder


def test_load_corpus_reads_every_article_and_skips_other_files(corpus):
    (corpus / "articles/notes.docx").write_bytes(b"PK\x03\x04")
    (corpus / ".hidden").mkdir()
    (corpus / ".hidden/secret.md").write_text("# Secret\n\nNot for the index.\n")
    result = load_corpus(corpus, ignore={"topics.yaml"})
    assert {d.id for d in result.documents} == DOC_IDS
    assert result.failures == []
    assert result.skipped == ["articles/notes.docx: unsupported file type '.docx'"]


def test_unignored_data_file_is_skipped_not_failed(corpus):
    result = load_corpus(corpus)
    assert result.skipped == ["topics.yaml: unsupported file type '.yaml'"]


def test_missing_corpus_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_corpus(tmp_path / "nowhere")


def test_each_bad_file_fails_alone_and_the_rest_still_loads(corpus, bad_files):
    write_files(corpus, bad_files)
    result = load_corpus(corpus, ignore={"topics.yaml"})
    assert {d.id for d in result.documents} == DOC_IDS
    reasons = {f.path: f.reason for f in result.failures}
    assert set(reasons) == set(bad_files)
    for rel, (_, words) in bad_files.items():
        assert words in reasons[rel], rel
        assert "\n" not in reasons[rel]
    assert "articles/sleep.md" in reasons["bad/zz-duplicate.md"]  # says who has the id already


def test_whitespace_only_file_is_empty(tmp_path):
    with pytest.raises(InputError, match="empty file"):
        load_one(tmp_path, "blank.md", "  \n\n\t\n")


def test_front_matter_without_body_has_no_text(tmp_path):
    with pytest.raises(InputError, match="no text"):
        load_one(tmp_path, "only-meta.md", "---\ntitle: Nothing else\n---\n")
