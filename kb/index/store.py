"""The index on disk: FAISS + BM25 + chunks + manifest in a build folder, swapped in atomically."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from kb.retrieval.bm25 import BM25Index
from kb.retrieval.dense import build_dense_index
from kb.errors import IndexBusyError, IndexMismatchError
from kb.records import Chunk, Document

FORMAT_VERSION = 1
CURRENT = "CURRENT"
BUILDS = "builds"
KEEP_BUILDS = 2  # the live build and the one before it, so a reader mid-swap still finds its files


@dataclass
class Index:
    """A loaded index: documents, chunks aligned with their vectors, and both retrievers."""

    folder: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    dense: Any  # faiss.Index
    bm25: BM25Index
    fixed: dict[str, np.ndarray] = field(default_factory=dict)  # embed_key -> vector of texts besides chunks

    @property
    def model(self) -> str:
        return self.manifest["model"]["name"]


@contextmanager
def index_lock(root: Path) -> Iterator[None]:
    """Hold the build lock for root; a second builder stops with a clear message."""
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / ".lock", "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(f"another 'kb index' is building {root}; wait for it to finish") from None
        yield
    finally:
        handle.close()  # closing releases the lock, also when the process is killed


def current_build(root: Path) -> Path | None:
    """The live build folder, or None when nothing has been built."""
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    folder = root / BUILDS / name
    return folder if name and folder.is_dir() else None


def new_build_folder(root: Path) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    folder = root / BUILDS / f"b-{stamp}-{os.getpid()}"
    folder.mkdir(parents=True)
    return folder


FIXED = "fixed.npz"  # vectors of topic descriptions, therapist profiles and crisis exemplars


def write_build(folder: Path, manifest: dict[str, Any], documents: list[Document], chunks: list[Chunk],
                vectors: np.ndarray, keys: list[str], fixed: dict[str, np.ndarray] | None = None) -> None:
    """Write every file of a build; nothing is live until publish()."""
    import faiss

    with open(folder / "documents.jsonl", "w", encoding="utf-8") as out:
        for doc in documents:
            out.write(json.dumps(asdict(doc), ensure_ascii=False) + "\n")
    with open(folder / "chunks.jsonl", "w", encoding="utf-8") as out:
        for chunk, key in zip(chunks, keys):
            out.write(json.dumps({**asdict(chunk), "embed_key": key}, ensure_ascii=False) + "\n")
    np.save(folder / "vectors.npy", vectors.astype(np.float32), allow_pickle=False)
    dense = build_dense_index(vectors, int(manifest["model"]["dimension"]))  # exact when small, HNSW when large
    faiss.write_index(dense, str(folder / "dense.faiss"))
    BM25Index.build([c.embed_text for c in chunks]).save(folder / "bm25")
    if fixed:
        np.savez(folder / FIXED, keys=np.array(list(fixed), dtype=str),
                 vectors=np.stack(list(fixed.values())).astype(np.float32))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def publish(root: Path, folder: Path) -> None:
    """Point CURRENT at the new build in one atomic rename, then drop old builds."""
    tmp = root / f"{CURRENT}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(folder.name + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, root / CURRENT)
    dir_fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    prune_builds(root)


def prune_builds(root: Path) -> None:
    """Remove unfinished and old builds, keeping the live one and the one before it (lock held)."""
    live = current_build(root)
    folders = sorted((root / BUILDS).glob("b-*")) if (root / BUILDS).is_dir() else []
    older = [f for f in folders if live and f.name < live.name and (f / "manifest.json").is_file()]
    keep = {live, *older[len(older) - (KEEP_BUILDS - 1):]} if older else {live}
    for folder in folders:
        if folder not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def read_documents(folder: Path) -> dict[str, Document]:
    docs = {}
    with open(folder / "documents.jsonl", encoding="utf-8") as lines:
        for line in lines:
            doc = Document(**json.loads(line))
            docs[doc.id] = doc
    return docs


def read_chunks(folder: Path) -> tuple[list[Chunk], list[str]]:
    chunks, keys = [], []
    with open(folder / "chunks.jsonl", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            keys.append(row.pop("embed_key"))
            chunks.append(Chunk(**row))
    return chunks, keys


def read_fixed(folder: Path) -> dict[str, np.ndarray]:
    """Stored vectors of texts besides chunks; empty if the build has none (they are only a cache)."""
    try:
        with np.load(folder / FIXED, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
    except (OSError, ValueError, KeyError):
        return {}
    if keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors):
        return {}
    return {str(k): v for k, v in zip(keys, vectors)}


def read_manifest(root: Path) -> dict[str, Any] | None:
    folder = current_build(root)
    if folder is None:
        return None
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_index(root: Path, model: str | None = None, dimension: int | None = None) -> Index:
    """Load the live index; raise IndexMismatchError if it is missing or built for another model."""
    import faiss

    folder = current_build(root)
    if folder is None:
        raise IndexMismatchError(f"no index in {root}: run 'kb index' to build it")
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise IndexMismatchError(f"index in {root} is damaged (manifest.json): run 'kb index --full'") from None
    check_manifest(manifest, root, model, dimension)
    try:
        documents = read_documents(folder)
        chunks, _ = read_chunks(folder)
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        dense = faiss.read_index(str(folder / "dense.faiss"))
        bm25 = BM25Index.load(folder / "bm25")
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise IndexMismatchError(f"index in {root} is damaged ({exc}): run 'kb index --full'") from None
    if len(chunks) != len(vectors) or dense.ntotal != len(chunks):
        raise IndexMismatchError(f"index in {root} is inconsistent: run 'kb index --full'")
    return Index(folder, manifest, documents, chunks, vectors, dense, bm25, read_fixed(folder))


def check_manifest(manifest: dict[str, Any], root: Path, model: str | None, dimension: int | None) -> None:
    """Refuse an index whose format, model or dimension differs from what is configured."""
    fix = "run 'kb index --full' to rebuild it"
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(f"index in {root} has format {manifest.get('format_version')}, "
                                 f"this version reads {FORMAT_VERSION}: {fix}")
    built = manifest.get("model", {})
    if model is not None and built.get("name") != model:
        raise IndexMismatchError(f"index in {root} was built with model '{built.get('name')}', "
                                 f"but '{model}' is configured: {fix}")
    if dimension is not None and built.get("dimension") != dimension:
        raise IndexMismatchError(f"index in {root} has dimension {built.get('dimension')}, "
                                 f"the model gives {dimension}: {fix}")
