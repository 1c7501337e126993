"""PDF -> text per page (page numbers kept for citations), via pypdf."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from typing import Any

from kb.errors import InputError

_END = re.compile(r"[.!?:;\"”)]$")


def read_pdf(data: bytes) -> tuple[str, list[int], dict[str, Any]]:
    """Return (text, page_starts, metadata); raises InputError for corrupt, locked or scanned PDFs."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed files are reported by us, once
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = bool(reader.decrypt(""))  # PasswordType.NOT_DECRYPTED is 0
            except Exception:
                ok = False
            if not ok:
                raise InputError("encrypted PDF (needs a password); save an unlocked copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        info: Mapping[str, Any] = reader.metadata or {}
    except InputError:
        raise
    except LimitReachedError:
        raise InputError(
            "a stream inflates past pypdf's size limit (a decompression bomb?); export the PDF again"
        ) from None
    except (PdfReadError, Exception) as exc:  # pypdf raises many types on damaged files
        raise InputError(f"corrupt or unreadable PDF ({type(exc).__name__})") from None
    meta: dict[str, Any] = {}
    title = str(info.get("/Title") or "").strip()
    if title:
        meta["title"] = title
    if str(info.get("/Subject") or "").strip():
        meta["summary"] = str(info["/Subject"]).strip()
    keywords = str(info.get("/Keywords") or "").strip()
    if keywords:
        meta["topics"] = [k.strip() for k in keywords.split(",") if k.strip()]
    texts, starts, offset = [], [], 0
    for raw in pages:
        page_text = reflow(raw)
        starts.append(offset)
        texts.append(page_text)
        offset += len(page_text) + 2
    text = "\n\n".join(texts)
    if len(re.sub(r"\s", "", text)) < 20:
        raise InputError("no extractable text (a scanned PDF?); add a text version")
    return text, starts, meta


def reflow(raw: str) -> str:
    """Join layout lines into paragraphs; short lines without end punctuation become headings."""
    lines = [re.sub(r"\s+", " ", line).strip() for line in raw.replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    width = max(len(line) for line in lines)
    out: list[str] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(" ".join(para))
            para.clear()

    for line in lines:
        after_sentence = not para or bool(_END.search(para[-1]))
        if after_sentence and len(line) < min(70, 0.75 * width) and not _END.search(line) and line[0].isupper():
            flush()
            out.append("## " + line)
            continue
        if line.startswith(("•", "- ", "– ", "[ ]")):
            flush()
            para.append("- " + line.lstrip("•-– ").strip())
            continue
        para.append(line)
        if _END.search(line) and len(line) < 0.8 * width:
            flush()
    flush()
    return "\n\n".join(out)
