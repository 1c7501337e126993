"""The knowledge base as one object: settings, model, index and the services built on them."""

from __future__ import annotations

import difflib
from dataclasses import replace
from functools import cached_property

import numpy as np

from kb.answering.compose import ABSTAIN_MESSAGE, DISCLAIMER, clean_query, compose, compose_lead
from kb.answering.decide import decide
from kb.answering.directory_answer import answer_from_directory, directory_matches
from kb.answering.faq import FaqHeadings, faq_answer, opening_question
from kb.answering.language import detect_language
from kb.answering.readable import (
    acts_reversed,
    asks_for_self,
    roles_mentioned,
    themes_unraised,
    written_for_helpers,
    written_for_someone_with,
)
from kb.answering.scope import out_of_scope
from kb.answering.topics import infer_topics
from kb.config import DEFAULT_MODEL, Settings
from kb.directory.matching import SELF_HARM, TherapistFilters, match_therapists, matching_topics
from kb.directory.therapists import Directory, load_directory
from kb.errors import CrisisAnswerError, InputError, KBError
from kb.index.store import Index, load_index
from kb.ingest.chunking import question_openings
from kb.ingest.topics import TopicVocabulary, topic_text
from kb.models.embedders import Embedder, KnownVectors, load_embedder
from kb.records import (
    Answer,
    Chunk,
    Crisis,
    Decision,
    Draft,
    Failure,
    Hit,
    Query,
    Retrieval,
    Suggestions,
    TherapistMatch,
)
from kb.retrieval.searcher import Searcher, load_reranker
from kb.retrieval.spelling import SpellingFixer
from kb.safety import CrisisDetector, crisis_articles, crisis_sections, detect_crisis

PASSAGES = 5
# A message of at most this many words that the rules read as a crisis is mostly about the crisis, so its answer is
# the crisis article's opening; a longer one asks something besides ("what helps with a short fuse? ... I hit her"), and
# below a concern panel it gets the answer to what it asks. An urgent crisis always gets the article's opening.
CRISIS_LEAD_WORDS = 25


class KnowledgeBase:
    """Loads the model, index, topics and directory once; the CLI and the app call only this."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self._embedder = embedder

    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder or load_embedder(self.settings)

    @cached_property
    def known(self) -> Embedder:
        """The embedder, with the vectors of topics, profiles and exemplars stored at build time."""
        try:
            fixed = self.index.fixed
        except KBError:  # no usable index: crisis detection must still work
            fixed = {}
        return KnownVectors(self.embedder, fixed)

    @cached_property
    def passage_vectors(self) -> Embedder:
        """The embedder for the sentences of passages: stored at build time, else embedded once per process."""
        return KnownVectors(self.embedder, self.index.fixed, remember=50_000)

    @cached_property
    def index(self) -> Index:
        return load_index(self.settings.index, self.embedder.name, self.embedder.dimension)

    @cached_property
    def searcher(self) -> Searcher:
        reranker = load_reranker(self.settings.reranker) if self.settings.reranker else None
        return Searcher(self.index, self.embedder, self.settings, reranker)

    @cached_property
    def topics(self) -> TopicVocabulary:
        return TopicVocabulary.load(self.settings.topics_path)

    @cached_property
    def topic_vectors(self) -> np.ndarray:
        return self.known.embed([topic_text(t) for t in self.topics])

    @cached_property
    def topic_labels(self) -> dict[str, str]:
        return self.topics.labels

    @cached_property
    def source_urls(self) -> dict[str, str]:
        """Each article's original address (front matter `url`), by document id."""
        return {d.id: d.metadata.url or "" for d in self.index.documents.values()}

    @cached_property
    def directory(self) -> Directory:
        """The therapists that load; bad rows, or a file that cannot be read, are in `.failures`, never raised."""
        if not self.settings.therapists_path.is_file():
            return Directory([], "", False)
        try:
            return load_directory(self.settings.therapists_path, {t.id for t in self.topics} or None)
        except InputError as exc:  # the app keeps answering, without therapist suggestions
            return Directory([], "", False, failures=[Failure(self.settings.therapists_file, str(exc))])

    @cached_property
    def profile_vectors(self) -> np.ndarray:
        return self.known.embed([t.profile_text() for t in self.directory.therapists])

    @cached_property
    def spelling(self) -> SpellingFixer:
        return SpellingFixer([c.text for c in self.index.chunks], getattr(self.embedder, "is_word", None))

    def retrieval_query(self, text: str) -> str:
        """What retrieval searches for: the question with obvious typos fixed (English only)."""
        return text if detect_language(text) == "fr" else self.spelling.fix(text)

    @cached_property
    def crisis_detector(self) -> CrisisDetector:
        return CrisisDetector(self.settings)

    def crisis_passages(self, query: str, query_vec: np.ndarray, crisis: Crisis, mode: str) -> list[Hit]:
        """For a crisis with an article in kb/data/crisis.yaml (suicide, self-harm, violence at home): the
        configured section first, then more of that article; empty when the crisis has no article or the
        corpus lacks it (answer as usual)."""
        for doc_id, section in crisis_articles(crisis):
            if doc_id not in self.index.documents:
                continue
            hits = self.searcher.search(
                query, k=len(self.index.chunks), mode=mode, max_per_doc=0, vector=query_vec, documents=[doc_id]
            )
            lead = min((h for h in hits if h.chunk.section == section), key=lambda h: h.chunk.start, default=None)
            if lead is not None:
                return [lead] + [h for h in hits if h is not lead][: PASSAGES - 1]
        return []

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        topics: list[str] | None = None,
        audience: str | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """Ranked passages for a query."""
        return self.searcher.search(query, k=k, mode=mode, topics=topics, audience=audience, vector=vector)

    def detect_crisis(self, question: str) -> Crisis:
        """Crisis detection for one message (evaluation and tests; `ask` reuses the question's vector)."""
        text, _ = clean_query(question)
        try:
            query = self.understand(text)
        except Exception:  # noqa: BLE001 - detection must not depend on the index or the model
            query = None
        return self.check_safety(text, query)

    def suggest_therapists(
        self, question: str, filters: TherapistFilters = TherapistFilters(), vector: np.ndarray | None = None
    ) -> list[TherapistMatch]:
        """Therapist matches for a question without composing an answer (used by evaluation)."""
        query_vec = self.embedder.embed([question])[0] if vector is None else vector
        hits = self.search(question, k=PASSAGES, vector=query_vec)
        topic_scores = infer_topics(query_vec, self.topic_vectors, self.topics, [h.topics for h in hits])
        return match_therapists(
            self.directory.therapists, topic_scores, query_vec, self.profile_vectors, filters, self.topic_labels
        )

    def understand(self, text: str) -> Query:
        """The question once: language, refusal, retrieval text (typos fixed in English) and its vector."""
        language = detect_language(text)
        retrieval = text if language == "fr" else self.spelling.fix(text)
        lead = opening_question(retrieval)
        vectors = self.embedder.embed([retrieval] + ([lead] if lead else []))  # one model call
        return Query(
            text=text,
            language=language,
            retrieval_text=retrieval,
            refusal=out_of_scope(text),
            vector=vectors[0],
            lead_vector=vectors[1] if lead else None,
        )

    def check_safety(self, text: str, query: Query | None) -> Crisis:
        """Crisis detection on the words as typed, reusing the question's vector from the bundled model."""
        vector = query.vector if query is not None and self.embedder.name == DEFAULT_MODEL else None
        return self.crisis_detector.detect(text, vector)

    def ask(
        self,
        question: str,
        topics: list[str] | None = None,
        audience: str | None = None,
        filters: TherapistFilters = TherapistFilters(),
        mode: str = "hybrid",
    ) -> Answer:
        """Crisis check first, then passages, a cited answer or an abstention, topics and therapists.

        The stages, in order: understand, check_safety, retrieve, decide, compose, suggest. Whatever fails
        after the question is read (no index, a model that will not load, a damaged file), a crisis is still
        detected from package data and raised with the error (CrisisAnswerError), so the front ends show
        crisis help first.
        """
        text, notices = clean_query(question)
        try:
            query = self.understand(text)
        except Exception as exc:
            crisis = detect_crisis(text, self.settings)
            if crisis.detected:
                raise CrisisAnswerError(_one_line(exc), crisis) from exc
            raise
        crisis = self.check_safety(text, query)  # always first, on the words as typed
        try:
            retrieval = self.retrieve(query, crisis, topics, audience, mode)
            decision = self.decide(query, retrieval)
            draft = self.compose(query, crisis, retrieval, decision, filters)
            suggestions = self.suggest(query, crisis, retrieval, decision, draft, filters)
        except Exception as exc:
            if crisis.detected:
                raise CrisisAnswerError(_one_line(exc), crisis) from exc
            raise
        return Answer(
            query=text,
            text=draft.text,
            abstained=not draft.answered,
            citations=draft.citations,
            passages=draft.passages,
            topics=suggestions.topics,
            therapists=suggestions.therapists,
            crisis=crisis,
            disclaimer=DISCLAIMER,
            notices=notices + _notices(query, crisis, draft),
            from_directory=draft.from_directory,
            from_heading=draft.from_heading,
        )

    def retrieve(
        self,
        query: Query,
        crisis: Crisis,
        topics: list[str] | None = None,
        audience: str | None = None,
        mode: str = "hybrid",
    ) -> Retrieval:
        """The passages to answer from: the crisis article's for a crisis that has one, else a search."""
        if not any(ch.isalnum() for ch in query.text):
            return Retrieval([])
        # A person in crisis is answered from the crisis article whatever the filters or the wording (French
        # too): it is relevant by definition, so no similarity bar applies, and its opening is quoted as is. A long
        # question with a concern in it is answered as asked, below the panel (CRISIS_LEAD_WORDS).
        mostly_crisis = crisis.tier == "urgent" or len(query.text.split()) <= CRISIS_LEAD_WORDS
        crisis_hits = (
            self.crisis_passages(query.retrieval_text, query.vector, crisis, mode)
            if query.refusal is None and mostly_crisis
            else []
        )
        if crisis_hits:
            return Retrieval(crisis_hits, crisis_article=True)
        hits = self.search(
            query.retrieval_text, k=PASSAGES, mode=mode, topics=topics, audience=audience, vector=query.vector
        )
        if not crisis.detected:  # words written for a person in crisis are never quoted to anyone else
            written_for_crisis = crisis_sections()
            hits = [h for h in hits if (h.chunk.doc_id, h.chunk.section) not in written_for_crisis]
            faq = self.faq_section(query, topics, audience) if query.refusal is None else None
            if faq is not None and (faq.chunk.doc_id, faq.chunk.section) not in written_for_crisis:
                others = [h for h in hits if h.chunk.id != faq.chunk.id][: PASSAGES - 1]
                return Retrieval([faq] + [replace(h, rank=n) for n, h in enumerate(others, 2)], faq=True)
        return Retrieval(hits)

    @cached_property
    def faq_headings(self) -> FaqHeadings:
        """The question headings of the corpus, with their vectors (stored with the build)."""
        openings = question_openings(list(self.index.chunks))
        return FaqHeadings(openings, self.known.embed([question for _, question in openings]))

    @cached_property
    def specialty_topics(self) -> list[int]:
        """Positions of the topics some therapist in the directory lists as a specialty."""
        listed = {s for t in self.directory.therapists for s in t.specialties}
        return [i for i, t in enumerate(self.topics) if t.id in listed]

    @cached_property
    def chunk_positions(self) -> dict[str, int]:
        return {c.id: i for i, c in enumerate(self.index.chunks)}

    def faq_section(self, query: Query, topics: list[str] | None, audience: str | None) -> Hit | None:
        """The section whose question heading asks nearly what the visitor asks (`faq_answer_above`), or what the
        opening question of a longer message asks (`faq_lead_above`), as a hit."""
        positions = self.chunk_positions
        allowed = self.searcher.mask(topics, audience)
        for_self, mentioned = asks_for_self(query.text), roles_mentioned(query.text)

        def fits(chunk: Chunk) -> bool:
            """Passes the filters, and the heading is not about helping someone else when the visitor asks for
            themselves, nor about a child, partner or parent the visitor never mentioned, nor for the other side
            of what the visitor describes (the one who cheated, to someone cheated on), nor about a theme or
            situation the visitor never raised (a divorce, crossdressing, a suicide loss)."""
            title = self.index.documents[chunk.doc_id].title if chunk.doc_id in self.index.documents else ""
            return (
                bool(allowed[positions[chunk.id]])
                and not (for_self and written_for_helpers(title, chunk.section))
                and not written_for_someone_with(title, chunk.section) - mentioned
                and not acts_reversed(title, chunk.section, query.text)
                and not themes_unraised(title, chunk.section, query.text)
            )

        match = faq_answer(self.faq_headings, query.vector, self.settings.faq_answer_above, fits)
        if match is None and query.lead_vector is not None:
            match = faq_answer(self.faq_headings, query.lead_vector, self.settings.faq_lead_above, fits)
        return None if match is None else self.searcher.hit_at(positions[match.chunk.id], query.vector)

    def decide(self, query: Query, retrieval: Retrieval, below: float | None = None) -> Decision:
        """Answer or abstain (kb.answering.decide); `below` overrides the English threshold (`kb eval --sweep`)."""
        settings = self.settings
        threshold = settings.abstain_below if below is None else below
        topic_below = settings.abstain_topic_below_other_language if query.french else settings.abstain_topic_below
        # The topic bar was calibrated on the bundled model's cosines; another model is judged by its passages.
        calibrated = len(self.topics) and self.embedder.name == DEFAULT_MODEL
        topic = float((self.topic_vectors @ query.vector).max()) if calibrated else None
        return decide(query, retrieval, threshold, settings.abstain_below_other_language, topic, topic_below)

    def compose(
        self,
        query: Query,
        crisis: Crisis,
        retrieval: Retrieval,
        decision: Decision,
        filters: TherapistFilters = TherapistFilters(),
    ) -> Draft:
        """The answer's text and citations, from the first composer that has one, in order: the directory (a
        question about our therapists), the crisis article's opening, the best quoted span of the passages.
        A composer that finds nothing to quote leaves the answer to abstain.
        """
        reply = (
            None
            if crisis.detected or query.refusal
            else answer_from_directory(
                query.text, self.directory, filters, self.settings.booking_text or "", self.settings.booking_url or ""
            )
        )
        if reply is not None:  # a question about our therapists is answered from the directory's fields
            passages = retrieval.hits if decision.answer else []
            return Draft(reply.text, [], passages, from_directory=True, therapist_ids=reply.ids)
        if decision.abstain:
            return Draft(None, [], [])
        hits, limit = retrieval.hits, self.settings.answer_sentences
        from_heading = False
        if retrieval.crisis_article:
            text, citations = compose_lead(hits[0], limit, self.source_urls)
        elif retrieval.faq:  # the section answers this very question: its opening is the answer
            text, citations = compose_lead(hits[0], limit, self.source_urls, asks_for_self(query.text))
            from_heading = bool(citations)
            if not citations:
                text, citations = compose(
                    query.retrieval_text, hits[1:], self.passage_vectors, limit, self.source_urls, query.vector
                )
        else:
            text, citations = compose(
                query.retrieval_text, hits, self.passage_vectors, limit, self.source_urls, query.vector
            )
        if not citations:  # nothing in the passages reads well on its own
            return Draft(None, [], [])
        return Draft(text, citations, hits, from_heading=from_heading)

    def suggest(
        self,
        query: Query,
        crisis: Crisis,
        retrieval: Retrieval,
        decision: Decision,
        draft: Draft,
        filters: TherapistFilters = TherapistFilters(),
    ) -> Suggestions:
        """The question's topics (from its meaning and the passages it answers from) and the therapists who fit."""
        passage_topics = [h.topics for h in retrieval.hits] if decision.answer else []
        topic_scores = infer_topics(query.vector, self.topic_vectors, self.topics, passage_topics)
        # Therapists are matched on what they work with, not on topics no one lists ("choosing a therapist",
        # "crisis support", "evidence"), which would take the places of the concerns a question names.
        concerns = self.specialty_topics
        concern_scores = infer_topics(
            query.vector, self.topic_vectors[concerns], [self.topics[i] for i in concerns], passage_topics, limit=4
        )
        concern_scores = matching_topics(concern_scores, crisis.detected and crisis.kind in ("suicide", "self-harm"))
        if crisis.detected:
            wanted = 2 if crisis.kind in ("suicide", "self-harm") else 1
            for tid in ("crisis-support", SELF_HARM)[:wanted]:
                for scores in (topic_scores, concern_scores):
                    if tid not in dict(scores) and any(t.id == tid for t in self.topics):
                        scores.insert(0, (tid, 1.0))
        matches: list[TherapistMatch] = []
        therapists = self.directory.therapists
        if therapists and (draft.answered or crisis.detected):
            if draft.from_directory:
                matches = directory_matches(
                    draft.therapist_ids,
                    therapists,
                    concern_scores,
                    query.vector,
                    self.profile_vectors,
                    self.topic_labels,
                )
            else:
                matches = match_therapists(
                    therapists, concern_scores, query.vector, self.profile_vectors, filters, self.topic_labels
                )
        return Suggestions([tid for tid, _ in topic_scores], matches)


def _searched_for(typed: str, searched: str) -> str:
    """The words the spelling fixer changed ('Searched for "anxiety" (you typed "anxierty").'), never the whole
    question again: a long question echoed back buries the answer (and reads as part of it)."""
    old, new = typed.split(), searched.split()
    changes = [op for op in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes() if op[0] != "equal"]
    if changes and len(changes) <= 3 and all(tag == "replace" for tag, *_ in changes):
        pairs = [(" ".join(old[i1:i2]), " ".join(new[j1:j2])) for _, i1, i2, j1, j2 in changes]
        return "Searched for " + ", ".join(f"\u201c{b}\u201d (you typed \u201c{a}\u201d)" for a, b in pairs) + "."
    words = sum(max(i2 - i1, j2 - j1) for _, i1, i2, j1, j2 in changes) or 1
    return f"Searched with the spelling of {words} word{'s' if words != 1 else ''} corrected."


def _notices(query: Query, crisis: Crisis, draft: Draft) -> list[str]:
    """What the answer says about how the question was read, in order."""
    notices = []
    if query.retrieval_text != query.text and not crisis.detected:  # never echo a crisis message back
        notices.append(_searched_for(query.text, query.retrieval_text))
    if query.french:
        notices.append("Our articles are in English, so answers to questions in other languages may be less precise.")
    if query.refusal:
        notices.append(query.refusal)
    if not draft.answered:
        notices.append(ABSTAIN_MESSAGE)
    return notices


def _one_line(exc: Exception) -> str:
    """An error as one line for the front ends (library errors already are)."""
    if isinstance(exc, KBError):
        return str(exc)
    return f"something went wrong while answering ({type(exc).__name__}); crisis help above still applies"
