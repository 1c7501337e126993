"""The records passed between modules, defined once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Document:
    """One source file turned into plain, Markdown-like text."""

    id: str
    path: str  # relative to the corpus root, with forward slashes
    title: str
    text: str
    format: str  # markdown | html | pdf | text
    metadata: dict[str, Any] = field(default_factory=dict)
    page_starts: list[int] | None = None  # PDF: character offset where each page begins
    content_hash: str = ""

    @property
    def topics(self) -> list[str]:
        return list(self.metadata.get("topics") or [])

    @property
    def audience(self) -> str:
        return str(self.metadata.get("audience") or "public")


@dataclass
class Chunk:
    """A passage of a document: whole sentences under one heading path."""

    id: str
    doc_id: str
    ordinal: int
    text: str
    section: str  # heading path, e.g. "Transference > In everyday life"
    start: int  # character span in Document.text
    end: int
    page: int | None = None
    embed_text: str = ""  # what the model sees: title and section, then the text


@dataclass
class Hit:
    """A retrieved chunk with its fused score and the scores behind it."""

    rank: int
    chunk: Chunk
    score: float
    title: str
    topics: list[str]
    audience: str
    url: str
    dense_score: float | None = None
    bm25_score: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "doc_id": self.chunk.doc_id,
            "chunk_id": self.chunk.id,
            "title": self.title,
            "section": self.chunk.section,
            "page": self.chunk.page,
            "score": round(self.score, 6),
            "text": self.chunk.text,
            "topics": self.topics,
            "url": self.url,
        }


@dataclass
class Failure:
    """A corpus file that could not be used, and why."""

    path: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}
