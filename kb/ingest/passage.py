"""A passage as its author built it: sentences, the lines and paragraphs they sit in, lists and their lead-ins.

Answers quote these units (kb.answering.compose); a build stores the vectors of their texts (fixed.npz).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from kb.ingest.sentences import LIST_MARKER, sentence_spans
from kb.records import Chunk

_HEADING = re.compile(r"^[ \t]*#{1,6}\s")
# Emphasis marks are not words: answers quote "Anger that overwhelms: ..." rather than "**Anger that ...**".
_EMPHASIS = re.compile(r"\*\*|__")


@dataclass
class Unit:
    """One sentence of a passage and where it sits."""

    start: int  # span in chunk.text
    end: int
    line: int  # index of its line in the passage
    paragraph: int  # index of its paragraph (lines between blank lines)
    item: bool  # its line is a list item
    heading: bool  # its line is a Markdown heading (PDF and text passages can carry them)
    lead_in: int | None = None  # an item's list introduction: index of that sentence in the units; None if not here

    def text(self, passage: str) -> str:
        return passage[self.start : self.end]


def plain(text: str) -> str:
    """Text as quoted in an answer: emphasis marks dropped, every word kept."""
    return _EMPHASIS.sub("", text)


def spans_of(chunk: Chunk) -> list[list[int]]:
    """The sentence spans stored at index time, or computed now for a chunk that has none (an old record)."""
    stored = getattr(chunk, "sentences", None) or []
    if stored and all(0 <= s < e <= len(chunk.text) for s, e in stored):
        return [list(span) for span in stored]
    return sentence_spans(chunk.text)


def passage_units(chunk: Chunk) -> list[Unit]:
    """The sentences of a passage in order, each with its line, paragraph, list membership and lead-in."""
    text = chunk.text
    lines, pos = [], 0
    for body in text.split("\n"):
        lines.append((pos, pos + len(body)))
        pos += len(body) + 1
    line_starts = [s for s, _ in lines]
    paragraph_of, paragraph = [], 0
    for s, e in lines:
        if not text[s:e].strip():
            paragraph += 1
        paragraph_of.append(paragraph)
    units: list[Unit] = []
    for start, end in spans_of(chunk):
        line = bisect.bisect_right(line_starts, start) - 1
        body = text[lines[line][0] : lines[line][1]]
        units.append(
            Unit(start, end, line, paragraph_of[line], bool(LIST_MARKER.match(body)), bool(_HEADING.match(body)))
        )
    # An item's lead-in is the last sentence of the text line just before its list (blank lines and other
    # items may sit between them); a list that starts the passage has its lead-in in another passage.
    lead: int | None = None
    for i, unit in enumerate(units):
        if unit.item:
            unit.lead_in = lead
        elif not unit.heading:
            last_of_line = i + 1 == len(units) or units[i + 1].line != unit.line
            if last_of_line:
                lead = i
        else:
            lead = None
    return units


def passage_sentence_texts(chunks: list[Chunk]) -> list[str]:
    """Each chunk's sentences as the answer step embeds them, so a build can store their vectors.

    Answers rank the sentences of the top passages against the question; with their vectors stored
    beside the index (fixed.npz), a warm answer embeds only the question.
    """
    texts: list[str] = []
    for chunk in chunks:
        texts.extend(plain(u.text(chunk.text)).strip() for u in passage_units(chunk))
    return list(dict.fromkeys(t for t in texts if t))
