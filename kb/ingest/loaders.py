"""Markdown, HTML, PDF and plain text files -> Documents (every format becomes Markdown-like text)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from kb.errors import InputError
from kb.records import Document, Failure

SUPPORTED = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
             ".pdf": "pdf", ".txt": "text"}
MAX_BYTES = 20 * 1024 * 1024
LIST_FIELDS = ("topics", "related", "references")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,199}$")


@dataclass
class Corpus:
    """What a corpus folder yields: documents, files that failed, and files skipped."""

    documents: list[Document] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def iter_corpus_files(root: Path, ignore: set[str] = frozenset()) -> Iterator[Path]:
    """Every non-hidden file under root, in a stable order."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if rel.as_posix() in ignore:
            continue
        yield path


def load_corpus(root: Path, ignore: set[str] = frozenset()) -> Corpus:
    """Load every supported file under root; a bad file becomes a Failure, never an exception."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"corpus folder {root} does not exist (set --corpus or KB_CORPUS)")
    corpus = Corpus()
    seen: dict[str, str] = {}
    for path in iter_corpus_files(root, ignore):
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() not in SUPPORTED:
            corpus.skipped.append(f"{rel}: unsupported file type '{path.suffix or 'none'}'")
            continue
        try:
            doc = load_document(path, root)
        except InputError as exc:
            corpus.failures.append(Failure(rel, str(exc)))
            continue
        if doc.id in seen:
            corpus.failures.append(Failure(rel, f"duplicate id '{doc.id}' (already used by {seen[doc.id]})"))
            continue
        seen[doc.id] = rel
        corpus.documents.append(doc)
    return corpus


def load_document(path: Path, root: Path) -> Document:
    """Read one file into a Document; raises InputError with the reason."""
    rel = path.relative_to(root).as_posix()
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"unsupported file type '{path.suffix}'")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise InputError(f"file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if not data.strip():
        raise InputError("empty file")
    if kind == "pdf":
        from kb.ingest.pdf import read_pdf  # pypdf only when a PDF is met

        text, page_starts, meta = read_pdf(data)
    else:
        raw = _decode(data)
        page_starts = None
        if kind == "markdown":
            meta, body = split_front_matter(raw)
            text = clean_markdown(body)
        elif kind == "html":
            from kb.ingest.html import read_html  # BeautifulSoup only when HTML is met

            text, meta = read_html(raw)
        else:
            meta, text = {}, raw.replace("\r\n", "\n").strip()
    if not text.strip():
        raise InputError("no text after conversion")
    meta = _normalize_meta(meta)
    explicit_id = meta.pop("id", "")
    doc_id = str(explicit_id or rel.rsplit(".", 1)[0])
    # Only a written id is checked: a PDF or text file cannot set one, so its path (spaces and all) must do.
    if explicit_id and (not _ID_RE.match(doc_id) or ".." in doc_id):
        raise InputError(f"field 'id': {doc_id!r} is not a valid id (letters, digits, - _ . /)")
    title = str(meta.pop("title", "") or first_heading(text) or "").strip()
    return Document(id=doc_id, path=rel, title=title or path.stem, text=text, format=kind, metadata=meta,
                    page_starts=page_starts, content_hash=hashlib.sha256(data).hexdigest(), titled=bool(title))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """Split optional YAML front matter ('---' fenced) from a Markdown body."""
    raw = raw.replace("\r\n", "\n")
    if not raw.startswith("---\n"):
        return {}, raw
    end = raw.find("\n---", 3)  # from 3, so an empty block ("---\n---") closes too
    if end == -1:
        raise InputError("front matter: opening '---' has no closing '---'")
    try:
        meta = yaml.safe_load(raw[4:end]) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark else ""
        raise InputError(f"front matter: invalid YAML{where}") from None
    if not isinstance(meta, dict):
        raise InputError("front matter: must be a mapping of field: value")
    body_start = raw.find("\n", end + 4)
    return meta, raw[body_start + 1:] if body_start != -1 else ""


def _normalize_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Check field types that the engine relies on; keep everything else as it is."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        key = str(key)
        if key in LIST_FIELDS:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()] if key != "references" else [value]
            if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
                raise InputError(f"field '{key}': must be a list of strings")
            value = [str(v) for v in value]
        elif isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        elif key in ("id", "title", "summary", "audience", "url") and value is not None:
            if not isinstance(value, (str, int, float)):
                raise InputError(f"field '{key}': must be text")
            value = str(value)
        out[key] = value
    return out


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
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
