"""Build or update the index: embed only new or changed chunks, keep what a bad file cannot replace."""

from __future__ import annotations

import hashlib
import platform
import shutil
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

import numpy as np

from kb import __version__
from kb.ingest.chunking import chunk_document
from kb.config import Settings
from kb.models.embedders import Embedder, embed_key
from kb.errors import InputError
from kb.ingest.loaders import load_corpus
from kb.records import Chunk, Document, Failure
from kb.index.store import (FORMAT_VERSION, current_build, index_lock, new_build_folder, prune_builds, publish,
                    read_chunks, read_documents, read_fixed, read_manifest, write_build)

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
        return {"documents": self.documents, "chunks": self.chunks, "added": len(self.added),
                "changed": len(self.changed), "removed": len(self.removed), "embedded": self.embedded,
                "failed": [f.to_json() for f in self.failed], "kept": self.kept, "skipped": self.skipped,
                "seconds": round(self.seconds, 3)}


def corpus_ignores(settings: Settings) -> set[str]:
    """Data files in the corpus folder that are not articles."""
    return {settings.topics_file, settings.therapists_file}


def build_index(settings: Settings, embedder: Embedder, full: bool = False,
                progress: Progress | None = None) -> BuildReport:
    """Index settings.corpus into settings.index; only a complete build is ever made live."""
    started = time.perf_counter()
    root = settings.index
    with index_lock(root):
        prune_builds(root)  # leftovers of an interrupted build
        corpus = load_corpus(settings.corpus, corpus_ignores(settings))
        report = BuildReport(failed=corpus.failures, skipped=corpus.skipped)
        previous = None if full else current_build(root)
        old_docs = read_documents(previous) if previous else {}
        old_chunks, old_keys = read_chunks(previous) if previous else ([], [])
        old_vectors = np.load(previous / "vectors.npy", allow_pickle=False) if previous else None
        cache = {k: old_vectors[i] for i, k in enumerate(old_keys)} if old_vectors is not None else {}

        documents = list(corpus.documents)
        chunks: list[Chunk] = []
        for doc in documents:
            chunks.extend(chunk_document(doc, embedder.count_tokens, settings.max_tokens,
                                         settings.overlap_sentences))
        # A file that fails now but was indexed before keeps its previous version.
        by_path = {d.path: d for d in old_docs.values()}
        present = {d.id for d in documents}
        for failure in corpus.failures:
            old = by_path.get(failure.path)
            if old is not None and old.id not in present:
                documents.append(old)
                present.add(old.id)
                chunks.extend(c for c in old_chunks if c.doc_id == old.id)
                report.kept.append(failure.path)

        keys = [embed_key(embedder.name, c.embed_text) for c in chunks]
        vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
        todo = []
        for i, key in enumerate(keys):
            cached = cache.get(key)
            if cached is not None and len(cached) == embedder.dimension:
                vectors[i] = cached
            else:
                todo.append(i)
        done = 0
        step = max(1, settings.batch_size * 4)
        if progress and todo:
            progress(0, len(todo))  # before the first batch, so a progress bar's clock starts with the work
        for start in range(0, len(todo), step):
            batch = todo[start:start + step]
            vectors[batch] = embedder.embed([chunks[i].embed_text for i in batch])
            done += len(batch)
            if progress:
                progress(done, len(todo))
        report.embedded = len(todo)
        cache.update(read_fixed(previous) if previous else {})
        fixed = embed_fixed(fixed_texts(settings), embedder, cache)

        old_hash = {d.id: d.content_hash for d in old_docs.values()}
        for doc in corpus.documents:
            if doc.id not in old_hash:
                report.added.append(doc.id)
            elif old_hash[doc.id] != doc.content_hash:
                report.changed.append(doc.id)
        report.removed = sorted(set(old_hash) - present)
        report.documents, report.chunks = len(documents), len(chunks)

        folder = new_build_folder(root)
        try:
            write_build(folder, make_manifest(settings, embedder, documents, chunks), documents, chunks,
                        vectors, keys, fixed)
            publish(root, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # the live build is untouched
            raise
    report.seconds = time.perf_counter() - started
    return report


def fixed_texts(settings: Settings) -> list[str]:
    """Texts every process embeds besides chunks: crisis exemplars, topic descriptions, therapist profiles.

    A topic or directory file that does not load is left out here; `kb validate` and the app report it.
    """
    from kb.safety.detector import exemplar_texts
    from kb.directory.therapists import load_directory
    from kb.answering.topics import load_topics, topic_text

    texts = exemplar_texts()
    topics = []
    try:
        if settings.topics_path.is_file():
            topics = load_topics(settings.topics_path)
            texts += [topic_text(t) for t in topics]
        if settings.therapists_path.is_file():
            directory = load_directory(settings.therapists_path, {t.id for t in topics} or None)
            texts += [t.profile_text() for t in directory.therapists]
    except InputError:
        pass
    return list(dict.fromkeys(texts))


def embed_fixed(texts: list[str], embedder: Embedder, cache: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Vectors of the fixed texts by embed key, reusing any already computed."""
    keys = [embed_key(embedder.name, t) for t in texts]
    todo = [i for i, key in enumerate(keys) if key not in cache or len(cache[key]) != embedder.dimension]
    if todo:
        for i, vector in zip(todo, embedder.embed([texts[i] for i in todo])):
            cache[keys[i]] = vector
    return {key: cache[key] for key in keys}


def make_manifest(settings: Settings, embedder: Embedder, documents: list[Document],
                  chunks: list[Chunk]) -> dict[str, Any]:
    per_doc: dict[str, int] = {}
    for chunk in chunks:
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
    return {
        "format_version": FORMAT_VERSION,
        "model": {"name": embedder.name, "dimension": embedder.dimension, "normalized": True,
                  "max_seq_length": embedder.max_seq_length},
        "chunker": {"max_tokens": settings.max_tokens, "overlap_sentences": settings.overlap_sentences},
        "corpus": str(settings.corpus),
        "documents": {d.id: {"path": d.path, "hash": d.content_hash, "chunks": per_doc.get(d.id, 0)}
                      for d in documents},
        "counts": {"documents": len(documents), "chunks": len(chunks)},
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {"kb": __version__, "python": platform.python_version(),
                     **{name: _version(name) for name in
                        ("sentence-transformers", "torch", "faiss-cpu", "bm25s", "pypdf")}},
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def changes_on_disk(settings: Settings) -> dict[str, list[str]]:
    """Files added, changed or removed in the corpus since the live build (by content hash)."""
    manifest = read_manifest(settings.index) or {"documents": {}}
    built = {info["path"]: info["hash"] for info in manifest["documents"].values()}
    from kb.ingest.loaders import SUPPORTED, iter_corpus_files

    now = {}
    if settings.corpus.is_dir():
        for path in iter_corpus_files(settings.corpus, corpus_ignores(settings)):
            if path.suffix.lower() in SUPPORTED:
                now[path.relative_to(settings.corpus).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"added": sorted(set(now) - set(built)),
            "changed": sorted(p for p in now if p in built and built[p] != now[p]),
            "removed": sorted(set(built) - set(now))}
