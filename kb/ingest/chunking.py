"""Document -> Chunks: split at headings, then paragraphs, then sentences, within a token budget."""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kb.ingest.headings import SectionPath, find_headings
from kb.ingest.sentences import sentence_spans
from kb.records import Chunk, Document

TokenCounter = Callable[[str], int]
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
MIN_TEXT_BUDGET = 32

_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-Ý])")
_ABBREV = {
    "e.g",
    "i.e",
    "dr",
    "mr",
    "mrs",
    "ms",
    "st",
    "vs",
    "etc",
    "al",
    "p",
    "pp",
    "vol",
    "ed",
    "eds",
    "no",
    "fig",
    "cf",
    "approx",
    "jr",
    "sr",
    "prof",
    "inc",
    "dept",
    "u.s",
    "ph.d",
}


@dataclass
class Unit:
    """A sentence (or a piece of an over-long one) with its span and token count."""

    start: int
    end: int
    tokens: int
    paragraph: int


def split_sentences(text: str, offset: int = 0) -> Iterator[tuple[int, int]]:
    """Yield (start, end) spans of sentences in text, shifted by offset."""
    start = 0
    for match in _BOUNDARY.finditer(text):
        before = text[start : match.start()].rsplit(None, 1)
        word = before[-1].lower().rstrip(".") if before else ""
        if word in _ABBREV or (len(word) == 1 and word.isalpha()):
            continue  # "e.g. Freud", "J. Bowlby": not a sentence end
        end = match.start() + len(match.group(0).rstrip())
        if text[start:end].strip():
            yield offset + start, offset + end
        start = match.end()
    if text[start:].strip():
        yield offset + start, offset + len(text.rstrip())


def sections(doc: Document) -> Iterator[tuple[str, int, int]]:
    """Yield (heading path, start, end) for each run of body text between headings."""
    text = doc.text
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    path, body_start = SectionPath(doc.title), 0
    for heading in find_headings(lines):
        pos = starts[heading.line]
        if text[body_start:pos].strip():
            yield path.path, body_start, pos
        path.enter(heading.level, heading.text)
        body_start = starts[heading.line + 1]
    if text[body_start:].strip():
        yield path.path, body_start, len(text)


def _units(text: str, start: int, end: int, count: TokenCounter, budget: int) -> list[Unit]:
    units: list[Unit] = []
    for p_index, para in enumerate(re.finditer(r"[^\n]+(?:\n[^\n]+)*", text[start:end])):
        p_start = start + para.start()
        # List items and lines of a paragraph are split as sentences; each item stands alone.
        for line in re.finditer(r"[^\n]+", para.group(0)):
            for s, e in split_sentences(line.group(0), p_start + line.start()):
                n = count(text[s:e])
                if n <= budget:
                    units.append(Unit(s, e, n, p_index))
                else:
                    units.extend(_split_long(text, s, e, count, budget, p_index))
    return units


def _split_long(text: str, start: int, end: int, count: TokenCounter, budget: int, para: int) -> list[Unit]:
    """Cut a sentence longer than the budget at word boundaries (the only time a sentence is cut)."""
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    pieces, i = [], 0
    while i < len(words):
        lo, hi = i + 1, len(words)
        while lo < hi:  # the most words that fit
            mid = (lo + hi + 1) // 2
            if count(text[words[i][0] : words[mid - 1][1]]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        s, e = words[i][0], words[lo - 1][1]
        pieces.append(Unit(s, e, count(text[s:e]), para))
        i = lo
    return pieces


def chunk_document(
    doc: Document, count: TokenCounter, max_tokens: int = 256, overlap: int = 1, spans: bool = True
) -> list[Chunk]:
    """Split a document into chunks whose context-prefixed text fits max_tokens of the model.

    spans: find each chunk's sentences (`add_sentences`); the index build does that later, beside the encoder.
    """
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for section, s_start, s_end in sections(doc):
        prefix = context_prefix(doc.title if doc.titled else "", section)
        budget = max(MIN_TEXT_BUDGET, max_tokens - SPECIAL_TOKENS - count(prefix))
        units = _units(doc.text, s_start, s_end, count, budget)
        for group in _pack(units, budget, overlap):
            start, end = group[0].start, group[-1].end
            text = doc.text[start:end]
            key = f"{doc.id}\x00{section}\x00{text}"
            seen[key] = seen.get(key, 0) + 1
            digest = hashlib.sha1(f"{key}\x00{seen[key]}".encode()).hexdigest()[:16]
            chunks.append(
                Chunk(
                    id=digest,
                    doc_id=doc.id,
                    ordinal=len(chunks),
                    text=text,
                    section=section,
                    start=start,
                    end=end,
                    page=_page(doc, start),
                    embed_text=prefix + re.sub(r"\s+", " ", text),
                    sentences=sentence_spans(text) if spans else [],
                )
            )
    return chunks


def add_sentences(chunks: list[Chunk]) -> None:
    """Fill in each chunk's sentence spans (pysbd), for chunks made with spans=False."""
    for chunk in chunks:
        chunk.sentences = sentence_spans(chunk.text)


def question_openings(chunks: list[Chunk]) -> list[tuple[Chunk, str]]:
    """The first chunk of each section whose own heading is a question, with that question.

    "## How long does therapy last?" makes its section an answer to a question people ask: when a
    visitor asks nearly that, the section's opening is the answer (kb/answering/faq.py).
    """
    out: dict[tuple[str, str], tuple[Chunk, str]] = {}
    for chunk in chunks:
        heading = chunk.section.rsplit(" > ", 1)[-1].strip()
        if not heading.endswith("?"):
            continue
        key = (chunk.doc_id, chunk.section)
        if key not in out or chunk.start < out[key][0].start:
            out[key] = (chunk, heading)
    return list(out.values())


def context_prefix(title: str, section: str) -> str:
    """The title and heading path the model sees before a chunk's text (nothing when neither is known)."""
    context = " > ".join(part for part in (title, section) if part)
    return f"{context}\n" if context else ""


def _pack(units: list[Unit], budget: int, overlap: int) -> Iterator[list[Unit]]:
    """Greedy packing of whole sentences, carrying the last `overlap` sentences into the next chunk."""
    current: list[Unit] = []
    fresh = 0  # units in current that were not carried over
    for unit in units:
        if current and sum(u.tokens for u in current) + unit.tokens > budget:
            yield current
            carried = current[-overlap:] if overlap else []
            while carried and sum(u.tokens for u in carried) + unit.tokens > budget // 2:
                carried = carried[1:]
            current, fresh = list(carried), 0
        current.append(unit)
        fresh += 1
    if current and fresh:
        yield current


def _page(doc: Document, start: int) -> int | None:
    if not doc.page_starts:
        return None
    return bisect.bisect_right(doc.page_starts, start)
