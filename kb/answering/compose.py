"""Hits -> a short extractive answer: the most relevant contiguous span of one passage, quoted verbatim and cited."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kb.answering.readable import (
    MIN_WORDS,
    acts_reversed,
    addressed_to_helper,
    asks_about_crisis,
    asks_for_self,
    assumes_someone_unmentioned,
    is_about_the_text,
    is_crisis_instruction,
    is_unfinished,
    is_yes_no,
    leans_back,
    opens_with_reply,
    roles_mentioned,
    themes_unraised,
    unbalanced_quotes,
    word_count,
    written_for_helpers,
    written_for_someone_with,
)
from kb.errors import InputError
from kb.ingest.passage import Unit, passage_units, plain
from kb.ingest.sentences import LIST_MARKER
from kb.models.embedders import Embedder
from kb.records import Citation, Hit

MAX_QUERY_CHARS = 2000
MAX_ITEMS = 6  # list items quoted under one lead-in; a longer list gives its most relevant ones, in order
WRONG_ROLE = 0.15  # a passage for a helper, or about someone the visitor never mentioned, yields to one for them
LONE_SENTENCE = 0.12  # one sentence alone reads as a fragment unless nothing else comes close
SECOND_WITHIN = 0.03  # a second passage is quoted only when its span scores this close to the first's
LONE_WORDS = 14  # a passage's only quotable sentence may stand alone when it is at least this long
DISCLAIMER = (
    "This is educational information from our library, not therapy, diagnosis or an emergency "
    "service. If you are in crisis, call or text 9-8-8 (Canada and the US) or call 911."
)
ABSTAIN_MESSAGE = (
    "Our library doesn't have anything that answers this question well. You can browse the "
    "topics below, or look through our therapist directory to talk with someone."
)
# "Researchers have adapted this model ...": a first sentence that points back within its first words.
_POINTS_BACK = re.compile(r"^(\S+\s+){1,4}(this|these|those|such)\s", re.I)


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


@dataclass
class Span:
    """What an answer quotes from one passage: sentences in the author's order (a lead-in, then its items)."""

    hit: Hit
    units: list[Unit]
    indices: list[int]  # positions of the units in the passage's unit list
    score: float = 0.0
    relevance: float = 0.0  # mean similarity of its sentences to the question
    wrong_role: bool = False  # its passage is for a helper, or about someone the visitor never mentioned

    def sentences(self) -> list[str]:
        return [plain(u.text(self.hit.chunk.text)).strip() for u in self.units]


@dataclass
class Passage:
    """A retrieved passage, split into sentences, with which of them may be quoted."""

    hit: Hit
    units: list[Unit]
    quotable: list[bool]
    texts: list[str]  # each unit as quoted (emphasis marks dropped)
    for_helpers: bool = False  # written for someone supporting another person, and the visitor asks for themselves
    for_others: bool = False  # its headings are about someone (a child, partner, parent...) the question never mentions


def read_passage(hit: Hit, for_self: bool, question: str = "", crisis_lines: bool = True) -> Passage:
    """A hit's sentences and which may be quoted: no headings, notes about the page, advice to a helper when the
    visitor asks for themselves, lines that give the visitor someone their question does not mention ("your
    teen" to a person who never spoke of a child), or, unless crisis_lines, crisis guidance (the panel's). A
    section about a heavy theme the question does not raise, or written for the other side of what the visitor
    describes ("Why do I keep cheating?" to someone whose partner cheated), is never quoted."""
    units = passage_units(hit.chunk)
    texts = [plain(u.text(hit.chunk.text)).strip() for u in units]
    quotable = [
        not (
            u.heading
            or not t
            or is_about_the_text(t)
            or (for_self and addressed_to_helper(t))
            or (question and assumes_someone_unmentioned(t, question))
            or (not crisis_lines and is_crisis_instruction(t))
        )
        for u, t in zip(units, texts, strict=False)
    ]
    if question and (
        themes_unraised(hit.title, hit.chunk.section, question) or acts_reversed(hit.title, hit.chunk.section, question)
    ):
        quotable = [False] * len(units)  # read as a claim about the visitor: never quoted, only listed to read
    about = written_for_someone_with(hit.title, hit.chunk.section)
    return Passage(
        hit,
        units,
        quotable,
        texts,
        for_self and written_for_helpers(hit.title, hit.chunk.section),
        bool(question) and bool(about - roles_mentioned(question)),
    )


def _text_spans(p: Passage, limit: int) -> list[list[int]]:
    """Runs of 1..limit consecutive prose sentences that read on their own."""
    out = []
    n = len(p.units)
    for i in range(n):
        opens_paragraph = i == 0 or p.units[i - 1].paragraph != p.units[i].paragraph
        if opens_with_reply(p.texts[i]) or leans_back(p.texts[i]):
            continue  # "Yes, ..." answers the heading's question, not the visitor's; "It ..." needs what came before
        for j in range(i, min(n, i + limit)):
            u, t = p.units[j], p.texts[j]
            if u.item or not p.quotable[j] or is_yes_no(t) or is_unfinished(t) or t.endswith(":"):
                break  # a list, a heading or a dangling lead-in ends the run
            if j > i and u.paragraph != p.units[j - 1].paragraph and not (opens_paragraph and j - 1 == i):
                break  # a span keeps to its paragraph; only a one-sentence paragraph leads into the next
            out.append(list(range(i, j + 1)))
    return out


def _list_spans(p: Passage, rel: np.ndarray) -> list[list[int]]:
    """A list's lead-in (with the sentence before it in its paragraph) and its most relevant items."""
    out = []
    leads = sorted({u.lead_in for u in p.units if u.item and u.lead_in is not None})
    for lead in leads:
        if not p.quotable[lead] or is_yes_no(p.texts[lead]) or opens_with_reply(p.texts[lead]):
            continue
        items = [i for i, u in enumerate(p.units) if u.item and u.lead_in == lead]
        lines: dict[int, list[int]] = {}
        for i in items:
            lines.setdefault(p.units[i].line, []).append(i)
        groups = [g for g in lines.values() if all(p.quotable[i] for i in g)]
        if not groups:
            continue
        if len(groups) > MAX_ITEMS:
            best = sorted(groups, key=lambda g: -max(rel[i] for i in g))[:MAX_ITEMS]
            groups = sorted(best, key=lambda g: g[0])
        before = (
            [lead - 1]
            if (
                lead > 0
                and not p.units[lead - 1].item
                and p.quotable[lead - 1]
                and p.units[lead - 1].paragraph == p.units[lead].paragraph
                and not is_yes_no(p.texts[lead - 1])
                and not opens_with_reply(p.texts[lead - 1])
            )
            else []
        )
        chosen = [i for g in groups for i in g]
        out.append(before + [lead] + chosen)
        if before:
            out.append([lead] + chosen)
    return out


def _score(p: Passage, indices: list[int], rel: np.ndarray) -> float:
    """How well a span answers: its best and its average sentence, the passage's rank, and how it reads."""
    values = rel[indices]
    lead = p.units[indices[0]]
    items = [i for i in indices if p.units[i].item]
    if items:  # a list answers only when its lead-in does: a checklist fits many questions by its items alone
        intro = rel[[i for i in indices if not p.units[i].item]]
        score = 0.5 * float(intro.max()) + 0.5 * float(rel[items].mean()) + 0.04 / p.hit.rank
    else:
        score = 0.5 * float(values.max()) + 0.5 * float(values.mean()) + 0.04 / p.hit.rank
    if p.for_helpers or p.for_others:  # written for someone in another role than the visitor's
        score -= WRONG_ROLE
    score += 0.015 * min(len(indices), 4)  # a few sentences explain more than one
    if len(indices) == 1:
        score -= LONE_SENTENCE
    first = p.texts[indices[0]]
    if leans_back(first):
        start_of_paragraph = indices[0] == 0 or p.units[indices[0] - 1].paragraph != lead.paragraph
        score -= 0.03 if start_of_paragraph else 0.06
    elif _POINTS_BACK.match(first):
        score -= 0.03
    if first.endswith("?"):
        score -= 0.04  # a question opening an answer reads like a heading
    return score


def _readable(p: Passage, indices: list[int]) -> bool:
    texts = [p.texts[i] for i in indices]
    if unbalanced_quotes(" ".join(texts)):
        return False
    if len(indices) == 1 and not p.units[indices[0]].item:
        return word_count(texts[0]) >= LONE_WORDS
    for i in indices:  # a short sentence needs a neighbour of its own paragraph ("It passes." alone is a fragment)
        unit = p.units[i]
        if (
            not unit.item
            and word_count(p.texts[i]) < MIN_WORDS
            and not any(j != i and p.units[j].paragraph == unit.paragraph for j in indices)
        ):
            return False
    return word_count(" ".join(texts)) >= 2 * MIN_WORDS


def best_spans(query_vec: np.ndarray, passages: list[Passage], vectors: list[np.ndarray], limit: int) -> list[Span]:
    """Every readable span of every passage, best first."""
    spans = []
    for p, vecs in zip(passages, vectors, strict=False):
        if not len(p.units):
            continue
        rel = vecs @ query_vec
        for indices in _text_spans(p, limit) + _list_spans(p, rel):
            if _readable(p, indices):
                spans.append(
                    Span(
                        p.hit,
                        [p.units[i] for i in indices],
                        indices,
                        _score(p, indices, rel),
                        float(rel[indices].mean()),
                        p.for_helpers or p.for_others,
                    )
                )
    return sorted(spans, key=lambda s: (-s.score, s.hit.rank, s.indices[0]))


def _second(first: Span, spans: list[Span], vectors: dict[str, np.ndarray], limit: int) -> Span | None:
    """A span of another passage that adds to the first: nearly as relevant, and saying something else."""
    mine = vectors[first.hit.chunk.id][first.indices]
    for span in spans:
        theirs_at, mine_at = span.hit.chunk, first.hit.chunk
        same_section = (theirs_at.doc_id, theirs_at.section) == (mine_at.doc_id, mine_at.section)
        if same_section or span.score < first.score - SECOND_WITHIN or span.wrong_role:
            continue  # the same section, much less relevant, or written for someone else
        if (
            len(span.indices) < 2
            or len(span.indices) + len(first.indices) > limit + 3
            or span.relevance < first.relevance
        ):
            continue
        theirs = vectors[span.hit.chunk.id][span.indices]
        if float((theirs @ mine.T).max()) > 0.8:
            continue  # says what the first span says
        if set(span.sentences()) & set(first.sentences()):
            continue  # overlapping passages of one article
        return span
    return None


def render(span: Span, n: int) -> str:
    """A span as answer text: each sentence followed by its marker, list items on lines of their own."""
    out, prev = [], None
    for unit, sentence in zip(span.units, span.sentences(), strict=False):
        if unit.item and (prev is None or unit.line != prev.line):
            sep = "\n- "
        elif prev is None:
            sep = ""
        elif unit.paragraph != prev.paragraph:
            sep = "\n\n"
        elif unit.line != prev.line:
            sep = "\n"
        else:
            sep = " "
        out.append(f"{sep}{sentence} [{n}]")
        prev = unit
    return "".join(out).lstrip("\n")


def _citation(span: Span, n: int, source_urls: dict[str, str] | None) -> Citation:
    chunk, parts = span.hit.chunk, []
    for k, (index, sentence) in enumerate(zip(span.indices, span.sentences(), strict=False)):
        parts.append(sentence if k == 0 else (" " if index == span.indices[k - 1] + 1 else " … ") + sentence)
    return Citation(
        n=n,
        doc_id=chunk.doc_id,
        title=span.hit.title,
        section=chunk.section,
        page=chunk.page,
        url=span.hit.url,
        quote="".join(parts),
        chunk_id=chunk.id,
        source_url=(source_urls or {}).get(chunk.doc_id, ""),
    )


def _answer(spans: list[Span], source_urls: dict[str, str] | None) -> tuple[str, list[Citation]]:
    citations = [_citation(span, n, source_urls) for n, span in enumerate(spans, 1)]
    return "\n\n".join(render(span, n) for n, span in enumerate(spans, 1)), citations


def compose(
    query: str,
    hits: list[Hit],
    embedder: Embedder,
    limit: int = 4,
    source_urls: dict[str, str] | None = None,
    query_vec: np.ndarray | None = None,
) -> tuple[str, list[Citation]]:
    """The answer text with [n] markers and its citations: one passage's best span, sometimes a second's.

    query_vec: the question's vector when the caller has it (saves embedding the question again).
    """
    for_self = asks_for_self(query)
    passages = [read_passage(h, for_self, query, crisis_lines=asks_about_crisis(query)) for h in hits]
    texts = [t for p in passages for t in p.texts]
    if not texts:
        return "", []
    embedded = embedder.embed(texts if query_vec is not None else [query] + texts)
    if query_vec is None:
        query_vec, embedded = embedded[0], embedded[1:]
    vectors, at = [], 0
    for p in passages:
        vectors.append(embedded[at : at + len(p.texts)])
        at += len(p.texts)
    spans = best_spans(query_vec, passages, vectors, max(2, limit))
    if not spans:
        return "", []
    chosen = [spans[0]]
    second = _second(spans[0], spans, {p.hit.chunk.id: v for p, v in zip(passages, vectors, strict=False)}, limit)
    if second is not None:
        chosen.append(second)
    return _answer(chosen, source_urls)


def compose_lead(
    hit: Hit, limit: int = 4, source_urls: dict[str, str] | None = None, for_self: bool = False
) -> tuple[str, list[Citation]]:
    """The opening of one passage, in order, with its citation (the crisis and FAQ answers): its first readable span.

    for_self: the visitor asks for themselves, so lines addressed to a helper are not quoted (FAQ answers).
    """
    p = read_passage(hit, for_self)
    for start in range(len(p.units)):
        if not p.quotable[start] or p.units[start].item:
            continue
        indices: list[int] = []
        for i in range(start, len(p.units)):
            u, t = p.units[i], p.texts[i]
            if not p.quotable[i] or len(indices) >= limit and not u.item:
                break
            if u.item and (u.lead_in is None or u.lead_in not in indices):
                break
            if is_unfinished(t) and not u.item or is_yes_no(t):
                break
            indices.append(i)
            if t.endswith(":") and not (i + 1 < len(p.units) and p.units[i + 1].item):
                indices.pop()
                break
        while indices and p.texts[indices[-1]].endswith(":"):
            indices.pop()  # a lead-in whose list did not fit
        if indices and _readable(p, indices):
            span = Span(hit, [p.units[i] for i in indices], indices)
            return _answer([span], source_urls)
    return "", []


_CITED = re.compile(r"(.+?)\s\[(\d+)\](?:\s|$)", re.S)


def cited_sentences(text: str) -> list[tuple[str, int]]:
    """(sentence, citation number) pairs of an answer text, for checking faithfulness; a list item keeps its
    "- " marker."""
    return [(m.group(1).strip(), int(m.group(2))) for m in _CITED.finditer(text)]


def is_faithful(text: str | None, citations: list[Citation], passages: list[Hit]) -> bool:
    """Every sentence of the answer appears verbatim in the passage its marker cites (emphasis marks aside)."""
    if not text:
        return True
    by_n = {c.n: c for c in citations}
    chunks = {h.chunk.id: plain(h.chunk.text) for h in passages}
    pairs = cited_sentences(text)
    if _CITED.sub("", text).strip():
        return False  # text that no marker cites
    return bool(pairs) and all(
        n in by_n and plain(LIST_MARKER.sub("", sentence, count=1)) in chunks.get(by_n[n].chunk_id, "")
        for sentence, n in pairs
    )
