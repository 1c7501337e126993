"""`kb validate`: the corpus lint (front matter schema, vocabulary, links, directory) without building.

A front end's command, beside cli.py: it checks the corpus as a whole, so it reads what every stage reads
(the topic vocabulary, the directory, crisis articles, the live build's manifest).
"""

from __future__ import annotations

from kb.config import Settings
from kb.directory.therapists import check_directory
from kb.errors import InputError
from kb.index.build import corpus_ignores
from kb.index.store import read_manifest
from kb.ingest.chunking import chunk_document
from kb.ingest.data_files import without_path
from kb.ingest.front_matter import article_problems
from kb.ingest.loaders import load_corpus
from kb.ingest.topics import load_topics
from kb.records import Document, Failure
from kb.safety import crisis_article_entries


def validate_corpus(settings: Settings) -> tuple[list[Failure], int]:
    """All problems in the corpus folder, and how many files were checked."""
    corpus = load_corpus(settings.corpus, corpus_ignores(settings), indexed_ids(settings))
    problems = list(corpus.failures)
    vocabulary: set[str] | None = None
    if settings.topics_path.is_file():
        try:
            vocabulary = {t.id for t in load_topics(settings.topics_path)}
        except InputError as exc:
            problems.append(Failure(settings.topics_file, without_path(str(exc), settings.topics_path)))
    ids = {d.id for d in corpus.documents}
    for doc in corpus.documents:
        problems.extend(Failure(doc.path, reason) for reason in check_document(doc, ids, vocabulary))
    problems.extend(check_crisis_sections(settings, corpus.documents))
    if settings.therapists_path.is_file():
        problems.extend(check_directory(settings, vocabulary))
    count = (
        len(corpus.documents)
        + len(corpus.failures)
        + sum(p.is_file() for p in (settings.topics_path, settings.therapists_path))
    )
    return problems, count


def indexed_ids(settings: Settings) -> dict[str, str]:
    """id -> path in the live build, so a duplicate id is blamed on the newcomer as `kb index` would."""
    manifest = read_manifest(settings.index)
    return {doc_id: info.path for doc_id, info in manifest.documents.items()} if manifest is not None else {}


def check_crisis_sections(settings: Settings, documents: list[Document]) -> list[Failure]:
    """Each section kb/data/crisis.yaml quotes for a crisis must exist in its article, when the corpus has it."""
    by_id = {d.id: d for d in documents}
    problems = []
    for doc_id, section in sorted(set(crisis_article_entries())):
        doc = by_id.get(doc_id)
        if doc is None:
            continue  # another corpus: crisis questions are answered from whatever fits
        chunks = chunk_document(doc, lambda text: len(text.split()), settings.max_tokens, settings.overlap_sentences)
        if section not in {c.section for c in chunks}:
            problems.append(
                Failure(
                    doc.path,
                    f"section '{section}' is quoted for crisis questions "
                    "(kb/data/crisis.yaml, articles) but the article has no such section",
                )
            )
    return problems


def check_document(doc: Document, ids: set[str], vocabulary: set[str] | None) -> list[str]:
    """Problems of one document: its metadata against `Article` (Markdown with front matter must give every
    field), then what only the whole corpus can tell (topics in the vocabulary, related articles that exist)."""
    meta = doc.metadata.to_json()  # the fields given, as Article checks them
    complete = doc.format == "markdown" and bool(meta)
    problems = article_problems({**meta, "id": doc.id, "title": doc.title}, complete)
    if vocabulary is not None:
        for topic in doc.topics:
            if topic not in vocabulary:
                problems.append(f"field 'topics': '{topic}' is not in the topic vocabulary")
    for related in meta.get("related") or []:
        if related not in ids:
            problems.append(f"field 'related': no article with id '{related}'")
        elif related == doc.id:
            problems.append("field 'related': an article cannot be related to itself")
    return problems
