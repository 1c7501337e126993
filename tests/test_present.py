"""The terminal and Markdown renderings of an answer."""

from __future__ import annotations

from kb.answering.compose import DISCLAIMER
from kb.answering.present import answer_as_markdown, answer_as_text
from kb.config import load_settings
from kb.records import Answer, Citation, Crisis, Resource

CITATIONS = [
    Citation(
        1,
        "transference",
        "Transference in everyday life",
        "At work",
        None,
        "/library?doc=transference",
        "A manager's brief email can feel like a harsh judgement.",
        "transference#3",
    ),
    Citation(2, "handout", "Grief handout", "", 2, "/library?doc=handout", "Grief comes in waves.", "handout#1"),
]


def answer(**changes) -> Answer:
    values = dict(
        query="Why does my boss upset me so much?",
        text="A manager's brief email can feel like a harsh judgement. [1] Grief comes in waves. [2]",
        abstained=False,
        citations=CITATIONS,
        passages=[],
        topics=["transference"],
        therapists=[],
        crisis=Crisis(detected=False),
        disclaimer=DISCLAIMER,
    )
    return Answer(**{**values, **changes})


def test_the_markdown_export_has_the_answer_each_source_with_its_quote_and_the_references():
    references = {
        1: "Practice. (2026). Transference in everyday life. In Library. Retrieved from /library?doc=t",
        2: "Practice. (n.d.). Grief handout. In Library. Retrieved from /library?doc=handout",
    }
    text = answer_as_markdown(answer(), references)
    lines = text.splitlines()
    assert lines[0] == "# Why does my boss upset me so much?"
    assert "A manager's brief email can feel like a harsh judgement. \\[1\\] Grief comes in waves. \\[2\\]" in lines
    assert '1. **Transference in everyday life**, section "At work"' in lines
    assert "2. **Grief handout**, p. 2" in lines
    assert "   > A manager's brief email can feel like a harsh judgement." in lines
    assert text.index("## Sources") < text.index("## References") < text.index(DISCLAIMER)
    assert f"[1] {references[1]}" in lines and f"[2] {references[2]}" in lines


def test_the_markdown_export_without_references_or_answer_still_carries_the_disclaimer():
    text = answer_as_markdown(answer())
    assert "## Sources" in text and "## References" not in text
    none = answer_as_markdown(answer(text=None, abstained=True, citations=[]))
    assert "_The library has no answer to this question._" in none and "## Sources" not in none
    assert none.rstrip().endswith(f"_{DISCLAIMER}_")


def test_the_markdown_export_escapes_every_title_quote_and_question():
    hostile = "<script>alert(1)</script> **loud** [x](javascript:alert(1)) ![p](https://evil.example/p.png)"
    cited = Citation(1, "h", hostile, hostile, None, "/library?doc=h", hostile, "h#1")
    text = answer_as_markdown(
        answer(query=hostile, text=hostile + " [1]\n- " + hostile, citations=[cited]), {1: hostile}
    )
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True
    tokens, kinds = md.parse(text), set()
    while tokens:
        token = tokens.pop()
        kinds.add(token.type)
        tokens.extend(token.children or [])
    assert not kinds & {"html_block", "html_inline", "image", "link_open"}
    assert "<script" not in text and "**<" not in text
    assert "1. **&lt;script&gt;alert(1)&lt;/script&gt; \\*\\*loud\\*\\*" in text
    assert md.render(text).count("&lt;script&gt;") == 7  # shown as text: question, answer, item, title, section,
    # quote, reference


def test_crisis_resources_come_first_in_both_renderings():
    crisis = Crisis(
        detected=True,
        kind="suicide",
        resources=[Resource("9-8-8", "Call or text 988", "CA", "https://988.ca")],
        tier="urgent",
        message="Please get help now.",
    )
    markdown = answer_as_markdown(answer(crisis=crisis)).splitlines()
    assert markdown[2] == "**If you are in crisis:** 9-8-8: Call or text 988"
    text = answer_as_text(answer(crisis=crisis))
    assert text.startswith("Please get help now.\nPLEASE GET HELP NOW:") and text.index("988") < text.index(
        "A manager's"
    )


def test_a_concern_is_shown_calmly_before_the_answer():
    crisis = Crisis(
        detected=True,
        kind="suicide",
        resources=[Resource("9-8-8", "Call or text 988", "CA")],
        tier="concern",
        message="You can call or text 9-8-8 any time.",
    )
    text = answer_as_text(answer(crisis=crisis))
    assert text.startswith("You can call or text 9-8-8 any time.\nHelp is there any time:")
    assert "PLEASE" not in text and text.index("988") < text.index("A manager's")


def test_the_practice_named_in_citations_is_a_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings({}, {}).practice_name == "Psychodynamic Therapy Collective"
    (tmp_path / "kb.toml").write_text('[kb]\npractice_name = "Harbour Street Therapy"\n', encoding="utf-8")
    assert load_settings({}, {}).practice_name == "Harbour Street Therapy"


def test_an_answer_from_the_directory_prints_no_empty_sources_heading():
    text = answer_as_text(
        answer(text="From our therapist directory (sample data): two therapists work in Mandarin.", citations=[])
    )
    assert "two therapists work in Mandarin" in text and "Sources:" not in text
    assert "Sources:" in answer_as_text(answer())
