"""Sentence boundaries from a maintained splitter (pysbd), computed once at index time and kept with each chunk."""

from __future__ import annotations

import re
from functools import lru_cache

# A list item's marker ("- ", "* ", "1. ", "2) ") belongs to the line, not to its first sentence.
LIST_MARKER = re.compile(r"^[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]+")


# pysbd writes a pattern for each abbreviation it looks for (5,800 distinct ones over the shipped corpus's lines),
# more than the 512 compiled patterns `re` keeps: each was compiled again for every line, 40 % of the splitter's
# time in a full build (measured). This many are kept while the splitter runs.
PATTERN_CACHE = 8192


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # pure Python, but only the index build and the answer checks need it

    if getattr(re, "_MAXCACHE", PATTERN_CACHE) < PATTERN_CACHE:  # CPython's re module: its cache's bound
        re._MAXCACHE = PATTERN_CACHE  # type: ignore[attr-defined]
    return pysbd.Segmenter(language="en", clean=False)


def sentence_spans(text: str) -> list[list[int]]:
    """[start, end] of each sentence of a passage, line by line: a list item or a line never runs into the next.

    A list item's marker is left out of its first sentence, so "1. Call 9-8-8 now." is one sentence, not two.
    """
    spans: list[list[int]] = []
    for line in re.finditer(r"[^\n]+", text):
        body = line.group(0)
        marker = LIST_MARKER.match(body)
        pos = marker.end() if marker else 0
        if not body[pos:].strip():
            continue
        for piece in _segmenter().segment(body[pos:]):
            piece = piece.strip()
            at = body.find(piece, pos) if piece else -1
            if at < 0:
                continue  # pysbd keeps the text as it is (clean=False); this only guards against surprises
            spans.append([line.start() + at, line.start() + at + len(piece)])
            pos = at + len(piece)
    return spans
