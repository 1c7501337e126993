"""One heading parser: chunks and the reader find the same headings and name sections with the same paths."""

from __future__ import annotations

from kb.ingest.chunking import sections
from kb.ingest.headings import SectionPath, find_headings
from kb.records import Document
from kb.web.text import article_sections

TEXT = """# Sleep and dreams

Intro line.

## Why we dream

Dreams sort memories.

```
# not a heading, code
```

### At night

More text here.

## Rest

Rest matters.
"""


def test_headings_outside_code_fences_are_found_in_order():
    found = find_headings(TEXT.split("\n"))
    assert [(h.level, h.text) for h in found] == [
        (1, "Sleep and dreams"),
        (2, "Why we dream"),
        (3, "At night"),
        (2, "Rest"),
    ]


def test_a_path_leaves_out_the_h1_that_repeats_the_title_and_closes_deeper_headings():
    path = SectionPath("Sleep and dreams")
    assert path.enter(1, "Sleep and dreams") == ""
    assert path.enter(2, "Why we dream") == "Why we dream"
    assert path.enter(3, "At night") == "Why we dream > At night"
    assert path.enter(2, "Rest ") == "Rest"


def test_every_chunk_section_is_a_section_the_reader_can_open():
    doc = Document(id="sleep", path="sleep.md", title="Sleep and dreams", text=TEXT, format="text")
    chunked = {path for path, _, _ in sections(doc)}
    readable = {s.path for s in article_sections(TEXT, doc.title, is_markdown=False)}
    assert chunked == {"", "Why we dream", "Why we dream > At night", "Rest"}
    assert chunked - {""} <= readable
