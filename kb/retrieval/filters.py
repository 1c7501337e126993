"""Topic, audience and document filters as precomputed bitmaps over chunk positions.

Built once per loaded index (one pass over the chunks at load), so a question's filter costs a few
bitwise operations on packed bitmaps (n/8 bytes), never a loop over chunks. A small allowed set is
also handed out as its positions, so the retrievers can score it exactly instead of searching.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from kb.records import Chunk, Document

SMALL_SELECTION = 20_000  # allowed chunks; fewer are scored exactly instead of searched


@dataclass
class Selection:
    """Which chunks a search may return: all (bitmap None), or a packed bitmap and, when small, positions."""

    count: int
    bitmap: np.ndarray | None = None  # uint8, bit i (little-endian) set when chunk i is allowed
    positions: np.ndarray | None = None  # sorted, given when count <= SMALL_SELECTION

    def allows(self, positions: np.ndarray) -> np.ndarray:
        """Whether each of the given chunk positions is allowed."""
        if self.bitmap is None:
            return np.ones(len(positions), dtype=bool)
        return ((self.bitmap[positions >> 3] >> (positions & 7).astype(np.uint8)) & 1).astype(bool)


def pack(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask, bitorder="little")


class ChunkFilters:
    """Bitmaps of the chunks of each topic and audience, and the positions of each document's chunks."""

    def __init__(self, documents: dict[str, Document], chunks: Sequence[Chunk], doc_ids: Iterable[str] | None = None):
        """doc_ids: the document id of each chunk, when the caller has them without reading every chunk."""
        self.size = len(chunks)
        names = list(documents)
        number = {doc_id: i for i, doc_id in enumerate(names)}
        owner = np.fromiter(
            (number[d] for d in (doc_ids if doc_ids is not None else (c.doc_id for c in chunks))),
            dtype=np.int64,
            count=self.size,
        )
        order = np.argsort(owner, kind="stable")
        bounds = np.searchsorted(owner[order], np.arange(len(names) + 1))
        self._doc_chunks = {doc_id: order[bounds[i] : bounds[i + 1]] for i, doc_id in enumerate(names)}
        topic_docs: dict[str, list[int]] = {}
        audience_docs: dict[str, list[int]] = {}
        for i, doc in enumerate(documents.values()):
            for topic in set(doc.topics):
                topic_docs.setdefault(topic, []).append(i)
            audience_docs.setdefault(doc.audience, []).append(i)

        def bitmap(doc_numbers: list[int]) -> tuple[np.ndarray, int]:
            docs = np.zeros(len(names), dtype=bool)
            docs[doc_numbers] = True
            mask = docs[owner]
            return pack(mask), int(mask.sum())

        self._topics = {t: bitmap(d) for t, d in topic_docs.items()}
        self._audiences = {a: bitmap(d) for a, d in audience_docs.items()}

    def select(
        self, topics: list[str] | None = None, audience: str | None = None, documents: list[str] | None = None
    ) -> Selection:
        """The chunks passing every filter given (a chunk passes the topic filter with any of the topics)."""
        if not topics and not audience and not documents:
            return Selection(self.size)
        parts = []
        if topics:
            maps = [self._topics[t][0] for t in dict.fromkeys(topics) if t in self._topics]
            parts.append(np.bitwise_or.reduce(maps) if maps else self._empty())
        if audience:
            parts.append(self._audiences[audience][0] if audience in self._audiences else self._empty())
        if documents:
            chosen = [self._doc_chunks[d] for d in dict.fromkeys(documents) if d in self._doc_chunks]
            positions = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
            if parts:
                keep = Selection(0, np.bitwise_and.reduce(parts)).allows(positions)
                positions = positions[keep]
            mask = np.zeros(self.size, dtype=bool)
            mask[positions] = True
            return Selection(len(positions), pack(mask), positions)
        bitmap = np.bitwise_and.reduce(parts) if len(parts) > 1 else parts[0]
        count = int(np.bitwise_count(bitmap).sum())
        small: np.ndarray | None = None  # the positions, listed only for a small selection
        if count <= SMALL_SELECTION:
            small = np.flatnonzero(np.unpackbits(bitmap, count=self.size, bitorder="little"))
        return Selection(count, bitmap, small)

    def mask(self, selection: Selection) -> np.ndarray:
        """A selection as one boolean per chunk."""
        if selection.bitmap is None:
            return np.ones(self.size, dtype=bool)
        return np.unpackbits(selection.bitmap, count=self.size, bitorder="little").astype(bool)

    def _empty(self) -> np.ndarray:
        return np.zeros((self.size + 7) // 8, dtype=np.uint8)
