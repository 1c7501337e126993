"""The knowledge base as one object: settings, model, index and the services built on them."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from kb.answering.compose import ABSTAIN_MESSAGE, DISCLAIMER, clean_query, compose, compose_lead, is_relevant
from kb.answering.directory_answer import answer_from_directory, directory_matches
from kb.answering.language import detect_language
from kb.answering.scope import out_of_scope
from kb.answering.topics import Topic, infer_topics, load_topics, topic_text
from kb.config import DEFAULT_MODEL, Settings
from kb.directory.matching import TherapistFilters, match_therapists
from kb.directory.therapists import Directory, load_directory
from kb.errors import CrisisAnswerError, InputError, KBError
from kb.index.store import Index, load_index
from kb.models.embedders import Embedder, KnownVectors, load_embedder
from kb.records import Answer, Citation, Crisis, Failure, Hit, Query, TherapistMatch
from kb.retrieval.searcher import Searcher, load_reranker
from kb.retrieval.spelling import SpellingFixer
from kb.safety import CrisisDetector, crisis_articles, crisis_sections, detect_crisis

PASSAGES = 5


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
    def topics(self) -> list[Topic]:
        return load_topics(self.settings.topics_path) if self.settings.topics_path.is_file() else []

    @cached_property
    def topic_vectors(self) -> np.ndarray:
        return self.known.embed([topic_text(t) for t in self.topics])

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
        labels = {t.id: t.label for t in self.topics}
        return match_therapists(
            self.directory.therapists, topic_scores, query_vec, self.profile_vectors, filters, labels
        )

    def understand(self, text: str) -> Query:
        """The question once: language, refusal, retrieval text (typos fixed in English) and its vector."""
        language = detect_language(text)
        retrieval = text if language == "fr" else self.spelling.fix(text)
        return Query(
            text=text,
            language=language,
            retrieval_text=retrieval,
            refusal=out_of_scope(text),
            vector=self.embedder.embed([retrieval])[0],
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

        Whatever fails after the question is read (no index, a model that will not load, a damaged file),
        a crisis is still detected from package data and raised with the error (CrisisAnswerError), so the
        front ends show crisis help first.
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
            return self._respond(query, crisis, notices, topics, audience, filters, mode)
        except Exception as exc:
            if crisis.detected:
                raise CrisisAnswerError(_one_line(exc), crisis) from exc
            raise

    def _respond(
        self,
        understood: Query,
        crisis: Crisis,
        notices: list[str],
        topics: list[str] | None,
        audience: str | None,
        filters: TherapistFilters,
        mode: str,
    ) -> Answer:
        text, refusal, french, query_vec = understood.text, understood.refusal, understood.french, understood.vector
        query = understood.retrieval_text
        if query != text and not crisis.detected:  # never echo a crisis message back, even corrected
            notices.append(f"Searched for: {query}")
        if french:
            notices.append(
                "Our articles are in English, so answers to questions in other languages may be less precise."
            )
        searchable = any(ch.isalnum() for ch in text)
        # A person in crisis is answered from the crisis article whatever the filters or the wording (French
        # too): it is relevant by definition, so no similarity bar applies, and its opening is quoted as is.
        crisis_hits = self.crisis_passages(query, query_vec, crisis, mode) if searchable and refusal is None else []
        hits = crisis_hits or (
            self.search(query, k=PASSAGES, mode=mode, topics=topics, audience=audience, vector=query_vec)
            if searchable
            else []
        )
        if not crisis.detected:  # words written for a person in crisis are never quoted to anyone else
            written_for_crisis = crisis_sections()
            hits = [h for h in hits if (h.chunk.doc_id, h.chunk.section) not in written_for_crisis]
        threshold = self.settings.abstain_below_other_language if french else self.settings.abstain_below
        relevant = refusal is None and (bool(crisis_hits) or is_relevant(hits, threshold))
        if refusal:
            notices.append(refusal)
        topic_scores = infer_topics(
            query_vec, self.topic_vectors, self.topics, [h.topics for h in hits] if relevant else []
        )
        if crisis.detected:
            wanted = 2 if crisis.kind in ("suicide", "self-harm") else 1
            for tid in ("crisis-support", "self-harm-and-suicide")[:wanted]:
                if tid not in dict(topic_scores) and any(t.id == tid for t in self.topics):
                    topic_scores.insert(0, (tid, 1.0))
        answer_text: str | None = None
        citations: list[Citation] = []
        reply = (
            None
            if crisis.detected or refusal
            else answer_from_directory(
                text, self.directory, filters, self.settings.booking_text or "", self.settings.booking_url or ""
            )
        )
        if relevant and reply is None:
            sources = {d.id: str(d.metadata.get("url") or "") for d in self.index.documents.values()}
            if crisis_hits:
                answer_text, citations = compose_lead(crisis_hits[0], self.settings.answer_sentences, sources)
            else:
                answer_text, citations = compose(
                    query, hits, self.passage_vectors, self.settings.answer_sentences, sources, query_vec
                )
            relevant = bool(citations)
        if reply is not None:  # a question about our therapists is answered from the directory's fields
            hits = hits if relevant else []
            answer_text, citations, relevant = reply.text, [], True
        if not relevant:
            notices.append(ABSTAIN_MESSAGE)
            answer_text, citations = None, []
        matches = []
        if self.directory.therapists and (relevant or crisis.detected):
            labels = {t.id: t.label for t in self.topics}
            matches = match_therapists(
                self.directory.therapists, topic_scores, query_vec, self.profile_vectors, filters, labels
            )
            if reply is not None:
                matches = directory_matches(
                    reply, self.directory.therapists, topic_scores, query_vec, self.profile_vectors, labels
                )
        return Answer(
            query=text,
            text=answer_text,
            abstained=not relevant,
            citations=citations,
            passages=hits if relevant else [],
            topics=[tid for tid, _ in topic_scores],
            therapists=matches,
            crisis=crisis,
            disclaimer=DISCLAIMER,
            notices=notices,
            from_directory=reply is not None,
        )


def _one_line(exc: Exception) -> str:
    """An error as one line for the front ends (library errors already are)."""
    if isinstance(exc, KBError):
        return str(exc)
    return f"something went wrong while answering ({type(exc).__name__}); crisis help above still applies"
