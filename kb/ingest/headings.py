"""Headings of cleaned article text ("# " lines outside code fences), and the section paths built from them.

Chunking names each passage's section with these paths and the reader splits an article at the same
headings, so a citation's section is always one the reader can open. (The reader finds the headings of
original Markdown, setext ones too, with markdown-it: kb/web/text.py.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Heading:
    level: int  # 1-6
    text: str
    line: int  # its line number in the text


def find_headings(lines: list[str]) -> list[Heading]:
    """The "# " heading lines, in order; lines inside a ``` fence are code, never headings."""
    found, in_fence = [], False
    for i, line in enumerate(lines):
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match:
            found.append(Heading(len(match.group(1)), match.group(2).strip(), i))
    return found


class SectionPath:
    """The headings above a point, as a path ("Transference > At work"); an H1 repeating the title is left out."""

    def __init__(self, title: str):
        self.title = title.strip()
        self.stack: list[tuple[int, str]] = []

    def enter(self, level: int, heading: str) -> str:
        """Step under a heading (closing any at its level or deeper); returns the new path."""
        self.stack = [(lv, h) for lv, h in self.stack if lv < level] + [(level, heading.strip())]
        return self.path

    @property
    def path(self) -> str:
        return " > ".join(h for lv, h in self.stack if not (lv == 1 and h == self.title))
