"""Hits -> a short extractive answer whose every sentence is quoted verbatim and cited, or an abstention."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kb.ingest.chunking import split_sentences
from kb.models.embedders import Embedder
from kb.errors import InputError
from kb.records import Citation, Hit

MAX_QUERY_CHARS = 2000
MIN_WORDS = 6
# Sentences about the article itself read oddly when quoted as an answer.
_META = re.compile(r"^(this|the) (article|page|handout|worksheet|guide|section)\b|^in this (article|page|section)\b"
                   r"|^(read on|see also|below,)", re.I)
DISCLAIMER = ("This is educational information from our library, not therapy, diagnosis or an emergency "
              "service. If you are in crisis, call or text 9-8-8 (Canada and the US) or call 911.")
ABSTAIN_MESSAGE = ("Our library doesn't have anything that answers this question well. You can browse the "
                   "topics below, or look through our therapist directory to talk with someone.")


@dataclass
class Candidate:
    """A sentence of a retrieved passage that could go into the answer."""

    hit: Hit
    text: str  # verbatim from hit.chunk.text
    position: int  # character offset in the passage, for reading order
    relevance: float = 0.0


def clean_query(query: str) -> tuple[str, list[str]]:
    """Validate a question: empty is an error; over-long is truncated with a notice."""
    if query is None or not str(query).strip():
        raise InputError("the question is empty; type a few words, e.g. 'what is transference?'")
    text = " ".join(str(query).split())
    notices = []
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]
        notices.append(f"Your question was long, so only its first {MAX_QUERY_CHARS} characters were used.")
    if not re.search(r"\w", text):
        notices.append("Your question has no words we can search for; try a few words or a sentence.")
    return text, notices


def candidates(hits: list[Hit]) -> list[Candidate]:
    """Whole, quotable sentences from the passages (no headings, questions or fragments)."""
    out, seen = [], set()
    for hit in hits:
        text = hit.chunk.text
        # Line by line, as the chunker does: a list's lead-in and its items are not one sentence.
        spans = [span for line in re.finditer(r"[^\n]+", text)
                 for span in split_sentences(line.group(0), line.start())]
        for start, end in spans:
            sentence = text[start:end].strip()
            stripped = re.sub(r"^[-*]\s+", "", sentence)
            start += len(sentence) - len(stripped)
            words = stripped.split()
            if (len(words) < MIN_WORDS or stripped.endswith(("?", ":")) or _META.search(stripped)
                    or not stripped[0].isalnum() and stripped[0] not in "\"“'(" or stripped in seen):
                continue
            seen.add(stripped)
            out.append(Candidate(hit, stripped, start))
    return out


def select_sentences(query_vec: np.ndarray, cands: list[Candidate], vectors: np.ndarray, limit: int,
                     diversity: float = 0.3, floor: float = 0.6) -> list[Candidate]:
    """Maximal marginal relevance: relevant to the question, not repeating one another."""
    if not cands:
        return []
    relevance = vectors @ query_vec
    for cand, rel in zip(cands, relevance):
        cand.relevance = float(rel) + 0.05 / cand.hit.rank  # a nudge toward higher-ranked passages
    chosen: list[int] = []
    best = max(c.relevance for c in cands)
    while len(chosen) < limit:
        scores = []
        for i, cand in enumerate(cands):
            if i in chosen:
                continue
            redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            if redundancy > 0.9:
                continue  # near-duplicate of a chosen sentence
            scores.append(((1 - diversity) * cand.relevance - diversity * redundancy, i))
        if not scores:
            break
        score, i = max(scores)
        if len(chosen) >= 2 and cands[i].relevance < floor * best:
            break
        chosen.append(i)
    return [cands[i] for i in chosen]


def order_for_reading(chosen: list[Candidate]) -> list[Candidate]:
    """Keep sentences of one passage together, passages in order of their best sentence."""
    first: dict[str, int] = {}
    for n, cand in enumerate(chosen):
        first.setdefault(cand.hit.chunk.id, n)
    return sorted(chosen, key=lambda c: (first[c.hit.chunk.id], c.position))


def compose(query: str, hits: list[Hit], embedder: Embedder, limit: int = 4,
            source_urls: dict[str, str] | None = None) -> tuple[str, list[Citation]]:
    """The answer text with [n] markers and its citations (one per passage used)."""
    cands = candidates(hits)
    if not cands:
        return "", []
    vectors = embedder.embed([query] + [c.text for c in cands])
    chosen = order_for_reading(select_sentences(vectors[0], cands, vectors[1:], limit))
    citations: dict[str, Citation] = {}
    parts = []
    for cand in chosen:
        chunk = cand.hit.chunk
        if chunk.id not in citations:
            citations[chunk.id] = Citation(n=len(citations) + 1, doc_id=chunk.doc_id, title=cand.hit.title,
                                           section=chunk.section, page=chunk.page, url=cand.hit.url,
                                           quote=cand.text, chunk_id=chunk.id,
                                           source_url=(source_urls or {}).get(chunk.doc_id, ""))
        else:
            citations[chunk.id].quote += " … " + cand.text
        parts.append(f"{cand.text} [{citations[chunk.id].n}]")
    return " ".join(parts), list(citations.values())


def compose_lead(hit: Hit, limit: int = 4, source_urls: dict[str, str] | None = None) -> tuple[str, list[Citation]]:
    """The first quotable sentences of one passage, in order, with its citation (the crisis answer)."""
    chosen = candidates([hit])[:limit]
    if not chosen:
        return "", []
    chunk = hit.chunk
    citation = Citation(n=1, doc_id=chunk.doc_id, title=hit.title, section=chunk.section, page=chunk.page,
                        url=hit.url, quote=" … ".join(c.text for c in chosen), chunk_id=chunk.id,
                        source_url=(source_urls or {}).get(chunk.doc_id, ""))
    return " ".join(f"{c.text} [1]" for c in chosen), [citation]


def is_relevant(hits: list[Hit], threshold: float) -> bool:
    """Whether the best passage is close enough in meaning to answer from (calibrated by `kb eval`)."""
    return bool(hits) and max(-1.0 if h.dense_score is None else h.dense_score for h in hits) >= threshold


_CITED = re.compile(r"(.+?)\s\[(\d+)\](?:\s|$)", re.S)


def cited_sentences(text: str) -> list[tuple[str, int]]:
    """(sentence, citation number) pairs of an answer text, for checking faithfulness."""
    return [(m.group(1).strip(), int(m.group(2))) for m in _CITED.finditer(text)]


def is_faithful(text: str | None, citations: list[Citation], passages: list[Hit]) -> bool:
    """Every sentence of the answer appears verbatim in the passage its marker cites."""
    if not text:
        return True
    by_n = {c.n: c for c in citations}
    chunks = {h.chunk.id: h.chunk.text for h in passages}
    pairs = cited_sentences(text)
    if _CITED.sub("", text).strip():
        return False  # text that no marker cites
    return bool(pairs) and all(n in by_n and sentence in chunks.get(by_n[n].chunk_id, "") for sentence, n in pairs)
