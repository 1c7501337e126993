"""HTML -> Markdown-like text: main content and headings kept; scripts, styles and navigation dropped."""

from __future__ import annotations

import re
from typing import Any

from kb.errors import InputError

BLOCKS = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre", "dt", "dd", "figcaption", "td", "th"]
DROP = [
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "aside",
    "noscript",
    "form",
    "iframe",
    "svg",
    "template",
    "button",
    "select",
    "object",
    "embed",
]
LIST_META = {"topics", "related"}
_BLOCK_SET = frozenset(BLOCKS)
MAX_TAGS = 20_000  # an article has a few hundred; 100,000 nested tags take seconds to parse


def read_html(raw: str) -> tuple[str, dict[str, Any]]:
    """Return (text, metadata); metadata comes from <title> and <meta name="kb:FIELD"> tags; raises InputError."""
    from bs4 import BeautifulSoup

    if raw.count("<") > MAX_TAGS:
        raise InputError(f"more than {MAX_TAGS:,} HTML tags; remove the markup that is not the article")
    soup = BeautifulSoup(raw, "html.parser")
    meta: dict[str, Any] = {}
    if soup.title and soup.title.get_text(strip=True):
        meta["title"] = soup.title.get_text(" ", strip=True)
    references = []
    for tag in soup.find_all("meta"):
        name = str(tag.get("name") or "").strip().lower()
        content = str(tag.get("content") or "").strip()
        if not name or not content:
            continue
        if name == "description":
            meta.setdefault("summary", content)
        elif name == "kb:reference":
            references.append(content)
        elif name.startswith("kb:"):
            field = name[3:]
            meta[field] = [v.strip() for v in content.split(",") if v.strip()] if field in LIST_META else content
    if references:
        meta["references"] = references
    for tag in soup.find_all(DROP):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    lines = []
    for el in outer_blocks(root):
        text = re.sub(r"\s+", " ", el.get_text(" ", strip=True)).strip()
        if not text:
            continue
        if el.name[0] == "h" and el.name[1:].isdigit():
            text = "#" * int(el.name[1]) + " " + text
        elif el.name == "li":
            text = "- " + text
        lines.append(text)
    if not lines:
        text = root.get_text("\n", strip=True)
        lines = [re.sub(r"[ \t]+", " ", t) for t in text.split("\n") if t.strip()]
    return "\n\n".join(lines), meta


def outer_blocks(root: Any) -> list[Any]:
    """Block elements not inside another block, in document order (a nested block is part of its parent's text).

    One walk down the tree, without recursion: 100,000 nested tags cost one visit each, not one walk up each.
    """
    from bs4 import Tag

    found, stack = [], [root]
    while stack:
        node = stack.pop()
        if node is not root and node.name in _BLOCK_SET:
            found.append(node)
            continue
        stack.extend(child for child in reversed(node.contents) if isinstance(child, Tag))
    return found
