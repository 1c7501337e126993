"""Build or update the index: embed only new or changed chunks, keep what a bad file cannot replace."""

from __future__ import annotations

import hashlib
import platform
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from kb import __version__
from kb.ingest.topics import load_topics, topic_text
from kb.config import Settings
from kb.directory.therapists import load_directory
from kb.errors import IndexMismatchError, InputError
from kb.index.integrity import damaged_files, storage_error
from kb.index.store import (
    FORMAT_VERSION,
    build_folders,
    current_build,
    index_lock,
    new_build_folder,
    prune_builds,
    publish,
    read_build_manifest,
    read_chunks,
    read_documents,
    read_fixed,
    read_manifest,
    read_vectors,
    write_build,
)
from kb.ingest.chunking import add_sentences, chunk_document, question_openings
from kb.ingest.data_files import without_path
from kb.ingest.loaders import SUPPORTED, iter_corpus_files, load_corpus
from kb.ingest.passage import passage_sentence_texts
from kb.models.embedders import Embedder, embed_key, embed_known
from kb.records import Chunk, CorpusChanges, Document, Failure, IndexedDocument, Manifest, ModelInfo

Progress = Callable[[int, int], None]


@dataclass
class BuildReport:
    """What a build did; `kb index --json` prints it."""

    documents: int = 0
    chunks: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    embedded: int = 0
    failed: list[Failure] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # failed now, previous version still indexed
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "embedded": self.embedded,
            "failed": [f.to_json() for f in self.failed],
            "kept": self.kept,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
        }


def corpus_ignores(settings: Settings) -> set[str]:
    """Data files in the corpus folder that are not articles."""
    return {settings.topics_file, settings.therapists_file}


MAX_CHUNKS = 2000  # per document: a whole book; more is almost surely a file pasted in by mistake


def build_index(
    settings: Settings, embedder: Embedder, full: bool = False, progress: Progress | None = None
) -> BuildReport:
    """Index settings.corpus into settings.index; only a complete build is ever made live.

    An operating-system error (disk full, read-only folder) becomes StorageError naming the path; the
    half-written build is removed and the live one stays live.
    """
    started = time.perf_counter()
    root = settings.index
    try:
        with index_lock(root):
            report = _build(settings, embedder, full, progress)
    except OSError as exc:
        raise storage_error(exc, root) from None
    report.seconds = time.perf_counter() - started
    return report


def _build(settings: Settings, embedder: Embedder, full: bool, progress: Progress | None) -> BuildReport:
    root = settings.index
    prune_builds(root)  # leftovers of an interrupted build
    previous = None if full else previous_builds(root)
    old = previous.manifest_documents if previous else {}
    corpus = load_corpus(settings.corpus, corpus_ignores(settings), {i: d.path for i, d in old.items()})
    report = BuildReport(failed=corpus.failures, skipped=corpus.skipped)
    cache = dict(previous.vectors) if previous else {}

    documents: list[Document] = []
    chunks: list[Chunk] = []
    fresh: list[Chunk] = []  # chunked now, their sentences found below
    for doc in corpus.documents:
        pieces = chunk_document(
            doc, embedder.count_tokens, settings.max_tokens, settings.overlap_sentences, spans=False
        )
        if len(pieces) > MAX_CHUNKS:
            corpus.failures.append(
                Failure(
                    doc.path,
                    f"splits into {len(pieces)} passages, more than the limit of "
                    f"{MAX_CHUNKS}; split it into smaller files",
                )
            )
            continue
        documents.append(doc)
        chunks.extend(pieces)
        fresh.extend(pieces)
    # A file that fails now but was indexed before keeps its previous version.
    old_docs = previous.documents if previous else {}
    by_path = {d.path: d for d in old_docs.values()}
    present = {d.id for d in documents}
    for failure in corpus.failures:
        kept = by_path.get(failure.path)
        if kept is not None and previous is not None and kept.id not in present:
            documents.append(kept)
            present.add(kept.id)
            chunks.extend(c for c in previous.chunks if c.doc_id == kept.id)
            report.kept.append(failure.path)

    keys = [embed_key(embedder.name, c.embed_text) for c in chunks]
    step = max(1, settings.batch_size * 4)
    # The sentence splitter (pysbd, pure Python) runs on a second thread while the encoder embeds the chunks: the
    # encoder leaves the GIL and some of two cores idle, so its 1.5 s for the shipped corpus costs no wall time
    # (measured: 16.2 s for both against 16.1 s for the encoder alone).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-sentences") as pool:
        splitting = pool.submit(add_sentences, fresh)
        vectors, todo = embed_known([c.embed_text for c in chunks], embedder, [cache], step, progress)
        splitting.result()
    report.embedded = len(todo)
    texts, data_failures = fixed_inputs(settings)
    report.failed.extend(data_failures)
    fixed = embed_fixed(texts_besides_chunks(texts, chunks), embedder, cache)

    old_hash = {doc_id: info.hash for doc_id, info in old.items()}
    for doc in documents:
        if doc.path in report.kept:
            continue
        if doc.id not in old_hash:
            report.added.append(doc.id)
        elif old_hash[doc.id] != doc.content_hash:
            report.changed.append(doc.id)
    report.removed = sorted(set(old_hash) - present)
    report.documents, report.chunks = len(documents), len(chunks)

    folder = new_build_folder(root)
    try:
        write_build(
            folder, make_manifest(settings, embedder, documents, chunks), documents, chunks, vectors, keys, fixed
        )
        publish(root, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # the live build is untouched
        raise
    return report


@dataclass
class PreviousBuilds:
    """What earlier builds still offer: the live manifest's documents, its records, and every intact vector."""

    manifest_documents: dict[str, IndexedDocument]  # from the live manifest
    documents: dict[str, Document]  # from the newest build whose documents and chunks read intact
    chunks: list[Chunk]
    vectors: dict[str, np.ndarray]  # embed key -> vector, from every build whose files check out


def previous_builds(root: Path) -> PreviousBuilds | None:
    """Read what the builds on disk still hold, skipping any damaged file (the build that follows replaces it).

    A damaged live build is rebuilt from these: chunks whose vectors survive in the live or the previous
    build (or in fixed.npz) are not embedded again.
    """
    live = current_build(root)
    if live is None:
        return None
    folders = [live] + [f for f in reversed(build_folders(root)) if f != live]
    found = PreviousBuilds({}, {}, [], {})
    for n, folder in enumerate(folders):
        manifest = read_build_manifest(folder)
        if manifest is None:
            continue
        if n == 0:
            found.manifest_documents = manifest.documents
        records = None
        if not damaged_files(folder, manifest, ["documents.jsonl", "chunks.jsonl", "dense.faiss"]):
            try:
                records = read_documents(folder), read_chunks(folder), read_vectors(folder)
            except IndexMismatchError:
                records = None
        if records is not None:
            docs, (chunks, keys), vectors = records
            if not found.documents and n == 0:
                found.documents, found.chunks = docs, chunks
            if len(keys) == len(vectors):
                for key, vector in zip(keys, vectors, strict=False):
                    found.vectors.setdefault(key, vector)
        for key, vector in read_fixed(folder).items():
            found.vectors.setdefault(key, vector)
    return found


def fixed_texts(settings: Settings) -> list[str]:
    """Texts every process embeds besides chunks: topic descriptions and therapist profiles.

    A topic or directory file (or therapist row) that does not load is left out here; see fixed_inputs.
    """
    return fixed_inputs(settings)[0]


def fixed_inputs(settings: Settings) -> tuple[list[str], list[Failure]]:
    """The fixed texts, and the topic file, directory file or therapist rows that failed (for `failed`)."""
    texts: list[str] = []
    failures: list[Failure] = []
    topics = []
    if settings.topics_path.is_file():
        try:
            topics = load_topics(settings.topics_path)
            texts += [topic_text(t) for t in topics]
        except InputError as exc:
            failures.append(Failure(settings.topics_file, without_path(str(exc), settings.topics_path)))
    if settings.therapists_path.is_file():
        try:
            directory = load_directory(settings.therapists_path, {t.id for t in topics} or None)
            texts += [t.profile_text() for t in directory.therapists]
            failures += [Failure(settings.therapists_file, f.reason) for f in directory.failures]
        except InputError as exc:
            failures.append(Failure(settings.therapists_file, without_path(str(exc), settings.therapists_path)))
    return list(dict.fromkeys(texts)), failures


def texts_besides_chunks(fixed: list[str], chunks: list[Chunk]) -> list[str]:
    """What a build embeds besides its chunks: the fixed texts, the question headings (FAQ answers compare
    questions) and every passage's sentences (a warm answer then embeds only the question)."""
    return fixed + [question for _, question in question_openings(chunks)] + passage_sentence_texts(chunks)


def embed_fixed(texts: list[str], embedder: Embedder, cache: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Vectors of the fixed texts by embed key, reusing any already computed."""
    vectors, _ = embed_known(texts, embedder, [cache])
    return {embed_key(embedder.name, t): v for t, v in zip(texts, vectors, strict=True)}


def make_manifest(settings: Settings, embedder: Embedder, documents: list[Document], chunks: list[Chunk]) -> Manifest:
    per_doc: dict[str, int] = {}
    for chunk in chunks:
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
    return Manifest(
        format_version=FORMAT_VERSION,
        model=ModelInfo(embedder.name, embedder.dimension, True, embedder.max_seq_length),
        documents={d.id: IndexedDocument(d.path, d.content_hash, per_doc.get(d.id, 0)) for d in documents},
        document_count=len(documents),
        chunk_count=len(chunks),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        chunker={"max_tokens": settings.max_tokens, "overlap_sentences": settings.overlap_sentences},
        corpus=str(settings.corpus),
        versions={
            "kb": __version__,
            "python": platform.python_version(),
            **{name: _version(name) for name in ("sentence-transformers", "torch", "faiss-cpu", "bm25s", "pypdf")},
        },
    )


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def changes_on_disk(settings: Settings) -> CorpusChanges:
    """Files added, changed or removed in the corpus since the live build (by content hash)."""
    manifest = read_manifest(settings.index)
    built = {d.path: d.hash for d in manifest.documents.values()} if manifest is not None else {}
    now = {}
    if settings.corpus.is_dir():
        for path in iter_corpus_files(settings.corpus, corpus_ignores(settings)):
            if path.suffix.lower() in SUPPORTED:
                try:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError:
                    digest = ""  # unreadable now: `kb index` reports it
                now[path.relative_to(settings.corpus).as_posix()] = digest
    return CorpusChanges(
        added=sorted(set(now) - set(built)),
        changed=sorted(p for p in now if p in built and built[p] != now[p]),
        removed=sorted(set(built) - set(now)),
    )
