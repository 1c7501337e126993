"""The index on disk: FAISS + BM25 + chunks + manifest in a build folder, swapped in atomically."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from kb.errors import IndexBusyError, IndexMismatchError
from kb.index.integrity import MANIFEST, damaged_files, file_digests, writing
from kb.records import Chunk, Document, Manifest
from kb.retrieval.bm25 import BM25Index
from kb.retrieval.dense import build_dense_index, stored_vectors

FORMAT_VERSION = 3  # 3: the vectors are stored once, in dense.faiss (2 also wrote them to vectors.npy)
READABLE_FORMATS = (2, 3)  # a format-2 build reads the same way: its vectors.npy is simply not opened
CURRENT = "CURRENT"
BUILDS = "builds"
KEEP_BUILDS = 2  # the live build and the one before it, so a reader mid-swap still finds its files


@dataclass
class Index:
    """A loaded index: documents, chunks aligned with their vectors, and both retrievers."""

    folder: Path
    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: np.ndarray | None  # a read-only view of a flat dense index's vectors; None for IVF
    dense: Any  # faiss.Index
    bm25: BM25Index
    fixed: dict[str, np.ndarray] = field(default_factory=dict)  # embed_key -> vector of texts besides chunks

    @property
    def model(self) -> str:
        return self.manifest.model.name


@contextmanager
def index_lock(root: Path) -> Iterator[None]:
    """Hold the build lock for root; a second builder stops with a clear message."""
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / ".lock", timeout=0)  # flock or msvcrt: freed when the process dies, also on kill -9
    try:
        lock.acquire()
    except Timeout:
        raise IndexBusyError(f"another 'kb index' is building {root}; wait for it to finish") from None
    try:
        yield
    finally:
        lock.release()


def current_build(root: Path) -> Path | None:
    """The live build folder, or None when nothing has been built.

    A missing, empty or dangling CURRENT falls back to the newest complete build (one with its manifest),
    so a damaged pointer neither hides intact builds nor lets the next `kb index` delete them.
    """
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    folder = root / BUILDS / name
    if name and "/" not in name and folder.is_dir():
        return folder
    complete = [f for f in build_folders(root) if (f / MANIFEST).is_file()]
    return complete[-1] if complete else None


def build_folders(root: Path) -> list[Path]:
    """Build folders, oldest first (their names start with the UTC time they were made)."""
    return sorted((root / BUILDS).glob("b-*")) if (root / BUILDS).is_dir() else []


def new_build_folder(root: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    folder = root / BUILDS / f"b-{stamp}-{os.getpid()}"
    folder.mkdir(parents=True)
    return folder


FIXED = "fixed.npz"  # vectors of topic descriptions, therapist profiles and crisis exemplars
REPAIR = "run 'kb index' to rebuild it (unchanged passages are not embedded again)"


def write_build(
    folder: Path,
    manifest: Manifest,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    keys: list[str],
    fixed: dict[str, np.ndarray] | None = None,
) -> None:
    """Write every file of a build; nothing is live until publish()."""
    import faiss

    with writing(folder / "documents.jsonl"), open(folder / "documents.jsonl", "w", encoding="utf-8") as out:
        for doc in documents:
            out.write(json.dumps(doc.to_json(), ensure_ascii=False) + "\n")
    with writing(folder / "chunks.jsonl"), open(folder / "chunks.jsonl", "w", encoding="utf-8") as out:
        for chunk, key in zip(chunks, keys, strict=False):
            out.write(json.dumps({**asdict(chunk), "embed_key": key}, ensure_ascii=False) + "\n")
    dense = build_dense_index(vectors, manifest.model.dimension)  # exact when small, IVF when large
    try:
        faiss.write_index(dense, str(folder / "dense.faiss"))
    except RuntimeError as exc:  # faiss reports a failed write as RuntimeError
        raise OSError(None, str(exc).strip().splitlines()[-1][:200], str(folder / "dense.faiss")) from None
    with writing(folder / "bm25"):
        BM25Index.build([c.embed_text for c in chunks]).save(folder / "bm25")
    if fixed:
        with writing(folder / FIXED):
            np.savez(
                folder / FIXED,
                keys=np.array(list(fixed), dtype=str),
                vectors=np.stack(list(fixed.values())).astype(np.float32),
            )
    for path in folder.rglob("*"):
        if path.is_file():
            with writing(path), open(path, "rb") as handle:
                os.fsync(handle.fileno())
    # Last, and by rename: a folder with a manifest is a complete build whose files the manifest vouches for.
    manifest.files = file_digests(folder)
    tmp = folder / f"{MANIFEST}.tmp"
    with writing(tmp), open(tmp, "w", encoding="utf-8") as out:
        out.write(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, folder / MANIFEST)


def publish(root: Path, folder: Path) -> None:
    """Point CURRENT at the new build in one atomic rename, then drop old builds."""
    tmp = root / f"{CURRENT}.tmp"
    try:
        with writing(tmp), open(tmp, "w", encoding="utf-8") as out:
            out.write(folder.name + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, root / CURRENT)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    prune_builds(root)


def prune_builds(root: Path) -> None:
    """Remove unfinished and old builds, keeping the live one and the one before it (lock held)."""
    live = current_build(root)
    folders = build_folders(root)
    older = [f for f in folders if live and f.name < live.name and (f / MANIFEST).is_file()]
    keep = {live, *older[len(older) - (KEEP_BUILDS - 1) :]} if older else {live}
    for folder in folders:
        if folder not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def read_documents(folder: Path) -> dict[str, Document]:
    """documents.jsonl; raises IndexMismatchError naming the file when it cannot be read."""
    docs = {}
    with _reading(folder, "documents.jsonl"), open(folder / "documents.jsonl", encoding="utf-8") as lines:
        for line in lines:
            doc = Document.from_json(json.loads(line))
            docs[doc.id] = doc
    return docs


def read_chunks(folder: Path) -> tuple[list[Chunk], list[str]]:
    """chunks.jsonl and each chunk's embed key; raises IndexMismatchError naming the file."""
    chunks, keys = [], []
    with _reading(folder, "chunks.jsonl"), open(folder / "chunks.jsonl", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            keys.append(row.pop("embed_key"))
            chunks.append(Chunk(**row))
    return chunks, keys


def read_vectors(folder: Path) -> np.ndarray:
    """Every chunk's vector, read back from dense.faiss (the one copy); raises IndexMismatchError naming the file."""
    import faiss

    with _reading(folder, "dense.faiss"):
        return dense_vectors(faiss.read_index(str(folder / "dense.faiss")))


def dense_vectors(dense: Any) -> np.ndarray:
    """The vectors a FAISS index holds, in position order: a flat index's own, an IVF-Flat's read back."""
    view = stored_vectors(dense)
    if view is not None:
        return np.array(view)
    if dense.ntotal == 0:
        return np.zeros((0, dense.d), dtype=np.float32)
    dense.make_direct_map()
    return np.asarray(dense.reconstruct_n(0, dense.ntotal), dtype=np.float32)


@contextmanager
def _reading(folder: Path, name: str) -> Iterator[None]:
    """Any failure to parse a build file (truncated JSON, an empty .npy, a bad zip...) becomes one line naming it."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - every parser raises its own types on a damaged file
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise IndexMismatchError(
            f"index build {folder} is damaged: {name} cannot be read ({detail}); {REPAIR}"
        ) from None


def read_fixed(folder: Path) -> dict[str, np.ndarray]:
    """Stored vectors of texts besides chunks; empty if missing or damaged (they are only a cache)."""
    try:
        manifest = Manifest.from_json(json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
        if damaged_files(folder, manifest, [FIXED]):
            return {}
        with np.load(folder / FIXED, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
    except Exception:  # noqa: BLE001 - a damaged cache of any kind is simply not used
        return {}
    if keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors):
        return {}
    return {str(k): v for k, v in zip(keys, vectors, strict=False)}


def read_manifest(root: Path) -> Manifest | None:
    """The live build's manifest; None when there is no build or its manifest cannot be read."""
    folder = current_build(root)
    return None if folder is None else read_build_manifest(folder)


def read_build_manifest(folder: Path) -> Manifest | None:
    """One build folder's manifest; None when it is missing or cannot be read."""
    try:
        return Manifest.from_json(json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def load_index(root: Path, model: str | None = None, dimension: int | None = None) -> Index:
    """Load the live index; raise IndexMismatchError if it is missing, damaged or built for another model.

    A build swapped in (and its predecessor's predecessor pruned) while this process was reading is not
    damage: the new live build is read instead.
    """
    for _ in range(3):
        folder = current_build(root)
        if folder is None:
            raise IndexMismatchError(f"no index in {root}: run 'kb index' to build it")
        try:
            return _load_build(root, folder, model, dimension)
        except IndexMismatchError:
            if current_build(root) == folder:
                raise
    assert folder is not None  # each round above raised when there was no build
    return _load_build(root, current_build(root) or folder, model, dimension)


def _load_build(root: Path, folder: Path, model: str | None, dimension: int | None) -> Index:
    import faiss

    with _reading(folder, MANIFEST):
        manifest = Manifest.from_json(json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
    check_manifest(manifest, root, model, dimension)
    damaged = damaged_files(folder, manifest, list(BUILD_FILES))
    if damaged:
        raise IndexMismatchError(f"index build {folder} is damaged: {'; '.join(damaged[:3])}; {REPAIR}")
    documents = read_documents(folder)
    chunks, _ = read_chunks(folder)
    with _reading(folder, "dense.faiss"):
        dense = faiss.read_index(str(folder / "dense.faiss"))
    with _reading(folder, "bm25"):
        bm25 = BM25Index.load(folder / "bm25")
    if (
        dense.ntotal != len(chunks)
        or dense.d != (manifest.model.dimension or dense.d)
        or manifest.chunk_count not in (None, len(chunks))
        or manifest.document_count not in (None, len(documents))
        or any(c.doc_id not in documents for c in chunks)
    ):
        raise IndexMismatchError(
            f"index build {folder} is inconsistent (documents.jsonl, chunks.jsonl, "
            f"dense.faiss and the manifest disagree); {REPAIR}"
        )
    return Index(folder, manifest, documents, chunks, _vectors_of(dense), dense, bm25, read_fixed(folder))


class _Holder:
    """Keeps a FAISS index alive for as long as a numpy view of its vectors exists (the view's base)."""

    def __init__(self, dense: Any, view: np.ndarray):
        self.dense = dense
        self.__array_interface__ = view.__array_interface__


def _vectors_of(dense: Any) -> np.ndarray | None:
    """A flat index's vectors without a copy, safe to keep after the index is dropped; None for IVF."""
    view = stored_vectors(dense)
    return None if view is None else np.asarray(_Holder(dense, view))


BUILD_FILES = ("documents.jsonl", "chunks.jsonl", "dense.faiss", "bm25")  # fixed.npz is a cache


def check_manifest(manifest: Manifest, root: Path, model: str | None, dimension: int | None) -> None:
    """Refuse an index whose format, model or dimension differs from what is configured."""
    fix = "run 'kb index --full' to rebuild it"
    if manifest.format_version not in READABLE_FORMATS:
        raise IndexMismatchError(
            f"index in {root} has format {manifest.format_version}, this version reads {FORMAT_VERSION}: {fix}"
        )
    built = manifest.model
    if model is not None and built.name != model:
        raise IndexMismatchError(
            f"index in {root} was built with model '{built.name}', but '{model}' is configured: {fix}"
        )
    if dimension is not None and built.dimension != dimension:
        raise IndexMismatchError(f"index in {root} has dimension {built.dimension}, the model gives {dimension}: {fix}")
