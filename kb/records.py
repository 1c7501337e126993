"""The records passed between modules, defined once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ArticleMeta:
    """What a file says of itself (front matter, HTML meta tags, PDF properties); None: not given."""

    summary: str | None = None
    topics: list[str] | None = None
    audience: str | None = None  # public | clinician
    last_reviewed: str | None = None  # ISO date
    reviewed_by: str | None = None
    references: list[str] | None = None
    related: list[str] | None = None  # ids of related articles
    url: str | None = None  # where the article is published

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ArticleMeta:
        """The known fields of a stored or validated mapping (a build before this record may hold others)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in (data or {}).items() if k in names and v is not None})

    def to_json(self) -> dict[str, Any]:
        """The fields given, in order: what documents.jsonl stores, as it always has."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Document:
    """One source file turned into plain, Markdown-like text."""

    id: str
    path: str  # relative to the corpus root, with forward slashes
    title: str
    text: str
    format: str  # markdown | html | pdf | text
    metadata: ArticleMeta = field(default_factory=ArticleMeta)
    page_starts: list[int] | None = None  # PDF: character offset where each page begins
    content_hash: str = ""
    titled: bool = True  # False when the title is only the file name, which says nothing of the content

    @property
    def topics(self) -> list[str]:
        return list(self.metadata.topics or [])

    @property
    def audience(self) -> str:
        return self.metadata.audience or "public"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        """A line of documents.jsonl."""
        return cls(**{**data, "metadata": ArticleMeta.from_json(data.get("metadata"))})

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "metadata": self.metadata.to_json()}


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
    sentences: list[list[int]] = field(default_factory=list)  # [start, end] of each sentence in text (pysbd)


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


@dataclass
class Resource:
    """A crisis line or service, as shown to a person in crisis."""

    name: str
    action: str  # e.g. "Call or text 9-8-8, any time"
    region: str
    url: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "action": self.action, "region": self.region, "url": self.url}


@dataclass
class Crisis:
    """The result of crisis detection on one question."""

    detected: bool
    kind: str | None = None  # suicide | self-harm | harm-others | violence | medical | child-safety
    about_someone_else: bool = False
    resources: list[Resource] = field(default_factory=list)
    score: float = 0.0
    reason: str = ""  # which rule or score decided (for tests and eval; never logged)
    explicit: bool = False  # a pattern fired (not only the classifier)
    tier: str = "none"  # urgent | concern | none
    message: str = ""  # the panel's first line, by tier

    def to_json(self) -> dict[str, Any]:
        if not self.detected:
            return {"detected": False, "tier": "none"}
        return {
            "detected": True,
            "tier": self.tier,
            "kind": self.kind,
            "about_someone_else": self.about_someone_else,
            "message": self.message,
            "resources": [r.to_json() for r in self.resources],
        }


@dataclass
class Query:
    """A question understood once and handed down: every stage reads this, none re-derives it."""

    text: str  # cleaned, as typed
    language: str  # en | fr
    retrieval_text: str  # what retrieval searches for (typos fixed in English)
    refusal: str | None = None  # why the library will not answer it (medication, diagnosis, ...), or None
    vector: Any = None  # numpy vector of retrieval_text, embedded once
    lead_vector: Any = None  # vector of the opening question of a longer message (same model call), or None

    @property
    def french(self) -> bool:
        return self.language == "fr"


@dataclass
class Citation:
    """One source behind a sentence of an answer."""

    n: int
    doc_id: str
    title: str
    section: str
    page: int | None
    url: str
    quote: str
    chunk_id: str = ""
    source_url: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "doc_id": self.doc_id,
            "chunk_id": self.chunk_id,
            "title": self.title,
            "section": self.section,
            "page": self.page,
            "url": self.url,
            "source_url": self.source_url,
            "quote": self.quote,
        }


@dataclass
class TherapistMatch:
    """A therapist suggested for a question, with the reasons."""

    id: str
    name: str
    credentials: str
    specialties: list[str]
    matched_topics: list[str]
    why: str
    profile_url: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "credentials": self.credentials,
            "specialties": self.specialties,
            "matched_topics": self.matched_topics,
            "why": self.why,
            "profile_url": self.profile_url,
            "score": round(self.score, 4),
        }


@dataclass
class Retrieval:
    """What the retrieve stage found for a query: the passages, and whether they are a crisis article's."""

    hits: list[Hit]
    crisis_article: bool = False  # the hits are the crisis article's (relevant by definition, quoted from its lead)
    faq: bool = False  # hits[0] opens a section whose question heading matches the question (quoted from its lead)


@dataclass(frozen=True)
class Decision:
    """Whether to answer from the library (the one abstention decision: ask, the app and `kb eval` share it)."""

    answer: bool
    reason: str  # refused | crisis-article | faq | relevant | off-topic | below-threshold | no-passages
    best_score: float | None  # best dense similarity of the passages (None when none has one)
    threshold: float

    @property
    def abstain(self) -> bool:
        return not self.answer


@dataclass
class Draft:
    """The compose stage's answer before topics and therapists: quoted, cited text, or nothing (abstain)."""

    text: str | None
    citations: list[Citation]
    passages: list[Hit]  # what the answer shows to read (empty when it abstains)
    from_directory: bool = False  # built from the therapist directory's fields
    therapist_ids: list[str] = field(default_factory=list)  # a directory answer: the therapists it names
    from_heading: bool = False  # the opening of a section whose question heading asks what the visitor asks

    @property
    def answered(self) -> bool:
        return self.text is not None


@dataclass
class Suggestions:
    """The suggest stage: the question's topics, best first, and the therapists whose specialties fit."""

    topics: list[str]
    therapists: list[TherapistMatch]


@dataclass
class Answer:
    """What a visitor gets back: crisis first, then a cited answer or an honest abstention."""

    query: str
    text: str | None
    abstained: bool
    citations: list[Citation]
    passages: list[Hit]
    topics: list[str]
    therapists: list[TherapistMatch]
    crisis: Crisis
    disclaimer: str
    notices: list[str] = field(default_factory=list)
    from_directory: bool = False  # built from the therapist directory's fields, not quoted from an article
    from_heading: bool = False  # the opening of a section whose question heading asks what the visitor asks

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "passages": [h.to_json() for h in self.passages],
            "topics": self.topics,
            "therapists": [t.to_json() for t in self.therapists],
            "crisis": self.crisis.to_json(),
            "disclaimer": self.disclaimer,
            "notices": self.notices,
        }


@dataclass(frozen=True)
class ModelInfo:
    """The model a build was embedded with."""

    name: str
    dimension: int
    normalized: bool = True
    max_seq_length: int = 0


@dataclass(frozen=True)
class IndexedDocument:
    """One document as a build's manifest lists it: where it came from and what it held."""

    path: str
    hash: str = ""  # SHA-256 of the file's bytes
    chunks: int = 0


@dataclass(frozen=True)
class FileDigest:
    """A build file's size and checksum, as the manifest vouches for them."""

    bytes: int
    sha256: str


@dataclass
class Manifest:
    """A build's manifest.json, read once into a record (the file's JSON is unchanged: see to_json)."""

    format_version: int | None
    model: ModelInfo
    documents: dict[str, IndexedDocument] = field(default_factory=dict)
    document_count: int | None = None  # "counts" in the file; None when an old build did not say
    chunk_count: int | None = None
    built_at: str = ""
    chunker: dict[str, int] = field(default_factory=dict)
    corpus: str = ""
    versions: dict[str, str | None] = field(default_factory=dict)
    files: dict[str, FileDigest] = field(default_factory=dict)  # empty: written before builds listed their files

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """Read manifest.json's object; a field of the wrong shape raises ValueError naming it."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        try:
            model = data.get("model") or {}
            counts = data.get("counts") or {}
            return cls(
                format_version=data.get("format_version"),
                model=ModelInfo(
                    str(model.get("name") or ""),
                    int(model.get("dimension") or 0),
                    bool(model.get("normalized", True)),
                    int(model.get("max_seq_length") or 0),
                ),
                documents={
                    str(k): IndexedDocument(v["path"], str(v.get("hash") or ""), int(v.get("chunks") or 0))
                    for k, v in (data.get("documents") or {}).items()
                    if isinstance(v, dict) and isinstance(v.get("path"), str)
                },
                document_count=counts.get("documents"),
                chunk_count=counts.get("chunks"),
                built_at=str(data.get("built_at") or ""),
                chunker=dict(data.get("chunker") or {}),
                corpus=str(data.get("corpus") or ""),
                versions=dict(data.get("versions") or {}),
                files={
                    str(k): FileDigest(v.get("bytes"), v.get("sha256")) for k, v in (data.get("files") or {}).items()
                },
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError(f"a field has the wrong shape ({exc})") from None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "model": asdict(self.model),
            "chunker": self.chunker,
            "corpus": self.corpus,
            "documents": {k: asdict(v) for k, v in self.documents.items()},
            "counts": {"documents": self.document_count, "chunks": self.chunk_count},
            "built_at": self.built_at,
            "versions": self.versions,
        }
        if self.files:
            out["files"] = {k: asdict(v) for k, v in self.files.items()}
        return out


@dataclass(frozen=True)
class CorpusChanges:
    """Corpus files added, changed or removed since the live build (by content hash), relative paths."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)

    def lines(self) -> list[str]:
        """'added: articles/x.md', ... for a list shown to maintainers."""
        return [f"{kind}: {path}" for kind, paths in self.to_json().items() for path in paths]

    def to_json(self) -> dict[str, list[str]]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed}
