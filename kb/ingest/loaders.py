"""Markdown, HTML, PDF and plain text files -> Documents (every format becomes Markdown-like text)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kb.errors import InputError
from kb.ingest.data_files import AliasError, load_yaml
from kb.ingest.front_matter import read_front_matter
from kb.ingest.html import read_html
from kb.ingest.pdf import read_pdf
from kb.records import ArticleMeta, Document, Failure

SUPPORTED = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".pdf": "pdf", ".txt": "text"}
MAX_BYTES = 20 * 1024 * 1024  # a PDF (images make them large)
MAX_TEXT_BYTES = 2 * 1024 * 1024  # Markdown, HTML, text: the longest article is about 12 KB
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,199}")  # always fullmatch: `$` would let "id\n" through


@dataclass
class Corpus:
    """What a corpus folder yields: documents, files that failed, and files skipped."""

    documents: list[Document] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


SYMLINK_NOTE = "symbolic link, not followed (copy the file into the corpus instead)"


def iter_corpus_files(
    root: Path, ignore: AbstractSet[str] = frozenset(), symlinks: list[str] | None = None
) -> Iterator[Path]:
    """Every non-hidden regular file under root, in a stable order; symbolic links are never followed.

    A link could point anywhere the server can read (`ln -s /etc/passwd corpus/articles/x.md`), so links to
    files and to folders are left out; their relative paths are added to `symlinks` when it is given.
    """
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in dirs + names:
            path = base / name
            rel = path.relative_to(root)
            if name.startswith(".") or rel.as_posix() in ignore:
                continue
            if path.is_symlink():
                if symlinks is not None:
                    symlinks.append(rel.as_posix())
            elif name in names and path.is_file():
                found.append(path)
        dirs[:] = [d for d in dirs if not d.startswith(".") and not (base / d).is_symlink()]
    yield from sorted(found)


def load_corpus(root: Path, ignore: AbstractSet[str] = frozenset(), owners: dict[str, str] | None = None) -> Corpus:
    """Load every supported file under root; a bad file becomes a Failure, never an exception.

    owners maps an id to the path that holds it in the live build: when another file claims that id, the
    owner keeps it (even while it fails to load, its previous version is kept) and the newcomer fails.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"corpus folder {root} does not exist (set --corpus or KB_CORPUS)")
    corpus = Corpus()
    links: list[str] = []
    loaded: list[Document] = []
    present: set[str] = set()
    for path in iter_corpus_files(root, ignore, links):
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() not in SUPPORTED:
            corpus.skipped.append(f"{rel}: unsupported file type '{path.suffix or 'none'}'")
            continue
        present.add(rel)
        try:
            loaded.append(load_document(path, root))
        except InputError as exc:
            corpus.failures.append(Failure(rel, str(exc)))
    corpus.skipped.extend(f"{rel}: {SYMLINK_NOTE}" for rel in links)
    owners = owners or {}
    holder: dict[str, str] = {}  # id -> path that gets it
    for doc in sorted(loaded, key=lambda d: d.path != owners.get(d.id)):  # owners first, else file order
        owner = owners.get(doc.id)
        if doc.id not in holder and owner not in present - {doc.path}:
            holder[doc.id] = doc.path
    for doc in loaded:
        winner = holder.get(doc.id) or owners[doc.id]
        if winner == doc.path:
            corpus.documents.append(doc)
        else:
            corpus.failures.append(
                Failure(doc.path, f"duplicate id '{doc.id}': already used by {winner}; give {doc.path} another id")
            )
    corpus.failures.sort(key=lambda f: f.path)
    return corpus


def load_document(path: Path, root: Path) -> Document:
    """Read one file into a Document; raises InputError with the reason."""
    rel = path.relative_to(root).as_posix()
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"unsupported file type '{path.suffix}'")
    limit = MAX_BYTES if kind == "pdf" else MAX_TEXT_BYTES
    data = _read_limited(path, limit)
    if not data.strip():
        raise InputError("empty file")
    if kind == "pdf":
        text, page_starts, meta = read_pdf(data)
    else:
        raw = _decode(data)
        page_starts = None
        if kind == "markdown":
            meta, body = split_front_matter(raw)
            text = clean_markdown(body)
        elif kind == "html":
            text, meta = read_html(raw)
        else:
            meta, text = {}, raw.replace("\r\n", "\n").strip()
    if not text.strip():
        raise InputError("no text after conversion")
    meta = read_front_matter(meta)
    explicit_id = meta.pop("id", "")
    doc_id = str(explicit_id or rel.rsplit(".", 1)[0])
    # Only a written id is checked: a PDF or text file cannot set one, so its path (spaces and all) must do.
    if explicit_id and (not _ID_RE.fullmatch(doc_id) or ".." in doc_id):
        raise InputError(f"field 'id': {doc_id!r} is not a valid id (letters, digits, - _ . /)")
    title = str(meta.pop("title", "") or first_heading(text) or "").strip()
    return Document(
        id=doc_id,
        path=rel,
        title=title or path.stem,
        text=text,
        format=kind,
        metadata=ArticleMeta.from_json(meta),
        page_starts=page_starts,
        content_hash=hashlib.sha256(data).hexdigest(),
        titled=bool(title),
    )


def _read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes, refusing a symbolic link (also one swapped in since the walk) and an over-large file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if path.is_symlink():
            raise InputError(SYMLINK_NOTE) from None
        raise InputError(f"cannot read file ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise InputError(
                    f"file is {size / 1048576:.1f} MB, more than the {limit // 1048576} MB limit "
                    "for this type; split it into smaller files"
                )
            return handle.read(limit + 1)
        except OSError as exc:
            raise InputError(f"cannot read file ({exc.strerror or exc})") from None


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    if "\x00" in text:  # valid UTF-8, but a text file never holds NUL: binary data, or UTF-16 without a BOM
        raise InputError(
            f"contains NUL bytes (first at byte {data.index(0)}), so it is not a text file; save it as UTF-8 text"
        )
    return text


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """Split optional YAML front matter ('---' fenced) from a Markdown body."""
    raw = raw.replace("\r\n", "\n")
    if not raw.startswith("---\n"):
        return {}, raw
    end = raw.find("\n---", 3)  # from 3, so an empty block ("---\n---") closes too
    if end == -1:
        raise InputError("front matter: opening '---' has no closing '---'")
    try:
        meta = load_yaml(raw[4:end]) or {}
    except AliasError as exc:
        raise InputError(
            f"front matter: YAML aliases (*name) are not allowed (line {exc.line + 1}); write the value out"
        ) from None
    except yaml.YAMLError as exc:
        # Where the unclosed bracket or quote began, when the parser says, else where it gave up.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark else ""
        raise InputError(f"front matter: invalid YAML{where}") from None
    if not isinstance(meta, dict):
        raise InputError("front matter: must be a mapping of field: value")
    body_start = raw.find("\n", end + 4)
    return meta, raw[body_start + 1 :] if body_start != -1 else ""


# A link's destination may hold one level of parentheses: [attachment](https://en.wikipedia.org/wiki/Attachment_(psychology))
_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()\n]|\([^()\n]*\))*\)")
_EMPH = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")
_CODE = re.compile(r"`([^`]*)`")
_TAG = re.compile(r"<[^>\n]+>")


def clean_markdown(body: str) -> str:
    """Markdown -> the plain text we index and quote: headings and list items kept, inline marks dropped."""
    lines = []
    in_fence = False
    for line in body.replace("\r\n", "\n").split("\n"):
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        if not in_fence:
            line = _TAG.sub("", line)
            line = _LINK.sub(r"\1", line)
            line = _CODE.sub(r"\1", line)
            line = _EMPH.sub(r"\2", line)
            line = re.sub(r"^(\s*)[*+]\s+", r"\1- ", line)
            line = re.sub(r"^\s*>\s?", "", line)
            if re.fullmatch(r"\s*([-*_]\s*){3,}", line):
                line = ""
        lines.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def first_heading(text: str) -> str | None:
    """The first Markdown heading's text, if any."""
    match = re.search(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.M)
    return match.group(1).strip() if match else None
