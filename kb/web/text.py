"""Text for the app, without Streamlit: escaped Markdown, highlighted terms, safe links, citations, article sections.

Everything here treats corpus, directory and visitor text as untrusted: it is escaped before it is put
into Markdown, links are kept only for http(s), mailto, tel and in-app paths, and images are never
rendered (no remote requests from an article).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from kb.config import Settings
from kb.ingest.headings import SectionPath, find_headings
from kb.ingest.loaders import clean_markdown, split_front_matter
from kb.records import Document
from kb.retrieval.bm25 import tokenize
from kb.retrieval.searcher import article_url

# The default author of the library in citations (setting practice_name).
PRACTICE_NAME = Settings.model_fields["practice_name"].default
LIBRARY_NAME = "Psychoeducation library"

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:&^=])")
_WORD = re.compile(r"\w+")
_MARKER = re.compile(r"\[(\d+)\]")
# What GFM would turn into a link even in escaped text; a word joiner (invisible) after each keeps it text.
_UNLINK = re.compile(r":(?=//)|\bwww(?=\.)|@", re.I)
_URL = re.compile(r"https?://[^\s<>\"'()]+")
# Words a question is made of but an answer is not about (BM25's own stopword list is short).
_QUIET = frozenset(
    [
        "i",
        "me",
        "my",
        "mine",
        "myself",
        "you",
        "your",
        "we",
        "our",
        "us",
        "he",
        "she",
        "him",
        "her",
        "his",
        "its",
        "them",
        "what",
        "why",
        "how",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "do",
        "does",
        "did",
        "done",
        "doing",
        "can",
        "could",
        "would",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "am",
        "been",
        "being",
        "so",
        "too",
        "very",
        "just",
        "about",
        "than",
        "from",
        "up",
        "out",
        "over",
        "any",
        "some",
        "all",
        "get",
        "got",
    ]
)
_PHONE = re.compile(r"\b\d(?:-?\d){2,}\b")


def escape_markdown(text: str) -> str:
    """Text that st.markdown shows literally: every Markdown, LaTeX and directive character escaped, and web
    addresses kept from becoming live links (GFM links bare addresses after escapes are read)."""
    return _escape(_UNLINK.sub("\\g<0>\u2060", str(text)))


def _escape(text: str) -> str:
    """Text with every Markdown, LaTeX and directive character escaped (a link's label: no autolinks there)."""
    return _SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", str(text)))


def _balanced(url: str) -> bool:
    depth = 0
    for c in url:
        depth += (c == "(") - (c == ")")
        if depth < 0:
            return False
    return depth == 0


def safe_url(url: str) -> str | None:
    """The url if it is http(s) with a host, mailto:, tel: or an in-app path; otherwise None.

    Parentheses are allowed only when balanced (a Wikipedia address), so the url can stand in a Markdown link.
    """
    url = str(url or "").strip()
    if not url or any(c.isspace() or c in "<>\"'\\`" or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    if not _balanced(url):
        return None
    if url.startswith("/") and not url.startswith("//"):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[": not an address
        return None
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    if parts.scheme in ("mailto", "tel") and parts.path:
        return url
    return None


def link(label: str, url: str) -> str:
    """A Markdown link with an escaped label, or just the escaped label when the url is not safe."""
    target = safe_url(url)
    return f"[{_escape(label)}]({target})" if target else escape_markdown(label)


def linkify(text: str) -> str:
    """Escaped text with its safe http(s) addresses as links (for reference lists)."""
    out, pos = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;")
        out += [escape_markdown(text[pos : match.start()]), link(url, url)]
        pos = match.start() + len(url)
    return "".join(out) + escape_markdown(text[pos:])


def query_terms(question: str) -> set[str]:
    """The stems of the question's words worth highlighting: BM25's stems without question words and pronouns."""
    return set(tokenize(" ".join(w for w in _WORD.findall(question.lower()) if w not in _QUIET)))


def highlight(text: str, terms: set[str]) -> str:
    """Escaped Markdown of text with the words whose stem is a query term in **bold**."""
    text = " ".join(str(text).split())
    out, pos = [], 0
    for match in _WORD.finditer(text):
        stems = tokenize(match.group(0))
        if stems and stems[0] in terms:
            out.append(escape_markdown(text[pos : match.start()]) if pos < match.start() else "")
            out.append(f"**{escape_markdown(match.group(0))}**")
            pos = match.end()
    out.append(escape_markdown(text[pos:]))
    return "".join(out)


def answer_markdown(text: str, anchor: str = "source-") -> str:
    """The answer, escaped, with each [n] marker a link to the passage card anchored at #source-n; a quoted list
    stays a list ("- " lines) and paragraphs stay apart."""

    def line(part: str) -> str:
        pieces = _MARKER.split(part)
        return "".join(f"[\\[{p}\\]](#{anchor}{p})" if i % 2 else escape_markdown(p) for i, p in enumerate(pieces))

    return "\n".join("- " + line(raw[2:]) if raw.startswith("- ") else line(raw) for raw in text.split("\n"))


def phone_links(action: str) -> str:
    """Escaped text of a crisis resource's action with its phone numbers as tel: links (tap to call)."""
    out, pos = [], 0
    for match in _PHONE.finditer(action):
        out.append(escape_markdown(action[pos : match.start()]))
        out.append(f"[{escape_markdown(match.group(0))}](tel:{re.sub(r'[^0-9]', '', match.group(0))})")
        pos = match.end()
    out.append(escape_markdown(action[pos:]))
    return "".join(out)


def apa_citation(doc: Document, section: str = "", practice: str = PRACTICE_NAME) -> str:
    """APA-style reference to an article in the library, retrieved from its in-app path."""
    reviewed = doc.metadata.last_reviewed or ""
    year = reviewed[:4] if re.match(r"\d{4}", reviewed) else "n.d."
    title = doc.title.strip()
    title += "" if title.endswith((".", "?", "!")) else "."
    return f"{practice}. ({year}). {title} In {LIBRARY_NAME}. Retrieved from {article_url(doc.id, section)}"


# CommonMark plus GFM tables and strikethrough, as st.markdown reads it; raw HTML is parsed so it can be escaped,
# and every link is kept for safe_url to judge (markdown-it's own check would turn unsafe ones into text anyway).
class _EveryLink(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return True


_MD = _EveryLink("commonmark", {"html": True}).enable(["table", "strikethrough"])
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_FENCE_INFO = re.compile(r"[A-Za-z0-9_+-]{1,30}")


def sanitize_markdown(body: str) -> str:
    """Corpus Markdown made safe for st.markdown: parsed, then written back with raw HTML escaped, images as
    their alt text, only safe links (safe_url), and no LaTeX or directives."""
    return _Writer().document(_MD.parse(str(body)))


def _html_text(html: str) -> str:
    """Raw HTML shown as the text it is (comments are an author's notes and are dropped)."""
    return escape_markdown(_COMMENT.sub("", html)).replace("\\<", "&lt;").replace("\\>", "&gt;")


def _plain(node: SyntaxTreeNode) -> str:
    """The words of an inline node, without marks (an image's alt text, a heading's path)."""
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(_plain(child) for child in node.children)


class _Writer:
    """Markdown from markdown-it's syntax tree, escaping everything that is text."""

    def __init__(self) -> None:
        self.in_link = 0
        self.in_table = False

    def document(self, tokens: list) -> str:
        return "\n\n".join(b for b in (self.block(n) for n in SyntaxTreeNode(tokens).children) if b.strip()) + "\n"

    def blocks(self, nodes, tight: bool = False) -> str:
        return ("\n" if tight else "\n\n").join(b for b in (self.block(n) for n in nodes) if b.strip())

    def block(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "paragraph":
            return self.inline(node.children[0]) if node.children else ""
        if kind == "heading":
            return "#" * int(node.tag[1]) + " " + (self.inline(node.children[0]) if node.children else "")
        if kind in ("bullet_list", "ordered_list"):
            return self.listing(node)
        if kind == "blockquote":
            return "\n".join("> " + line if line else ">" for line in self.blocks(node.children).split("\n"))
        if kind in ("fence", "code_block"):
            return self.code(node.content, node.info if kind == "fence" else "")
        if kind == "hr":
            return "---"
        if kind == "html_block":
            return _html_text(node.content)
        if kind == "table":
            return self.table(node)
        return self.blocks(node.children)  # anything else: its contents

    def listing(self, node: SyntaxTreeNode) -> str:
        tight = all(p.hidden for item in node.children for p in item.children if p.type == "paragraph")
        start = int(node.attrs.get("start", 1)) if node.type == "ordered_list" else 0
        items = []
        for i, item in enumerate(node.children):
            marker = f"{start + i}{node.markup} " if node.type == "ordered_list" else f"{node.markup} "
            lines = self.blocks(item.children, tight).split("\n")
            items.append("\n".join([marker + lines[0]] + [" " * len(marker) + ln if ln else "" for ln in lines[1:]]))
        return ("\n" if tight else "\n\n").join(items)

    @staticmethod
    def code(content: str, info: str) -> str:
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", content)), default=0))
        lang = info.split()[0] if info.split() and _FENCE_INFO.fullmatch(info.split()[0]) else ""
        return f"{fence}{lang}\n{content.rstrip(chr(10))}\n{fence}"

    def table(self, node: SyntaxTreeNode) -> str:
        rows, aligns = [], []
        self.in_table = True
        for part in node.children:  # thead, tbody
            for row in part.children:
                cells = [self.inline(cell.children[0]) if cell.children else "" for cell in row.children]
                rows.append("| " + " | ".join(cells) + " |")
                if part.type == "thead":
                    aligns = [str(cell.attrs.get("style", "")) for cell in row.children]
                    rows.append(
                        "| "
                        + " | ".join(
                            {"text-align:left": ":---", "text-align:right": "---:", "text-align:center": ":---:"}.get(
                                a, "---"
                            )
                            for a in aligns
                        )
                        + " |"
                    )
        self.in_table = False
        return "\n".join(rows)

    def inline(self, node: SyntaxTreeNode) -> str:
        return "".join(self.span(child) for child in node.children)

    def span(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "text":
            return _escape(node.content) if self.in_link else linkify(node.content)
        if kind == "softbreak":
            return "\n"
        if kind == "hardbreak":
            return "\\\n"
        if kind == "code_inline":
            return self.code_span(node.content)
        if kind == "html_inline":
            return _html_text(node.content)
        if kind == "image":  # never a request for the picture: its alt text
            return escape_markdown(_plain(node))
        marks = {"em": "*", "strong": "**", "s": "~~"}
        if kind in marks:
            return marks[kind] + self.inline(node) + marks[kind]
        if kind == "link":
            self.in_link += 1
            label = self.inline(node)
            self.in_link -= 1
            target = safe_url(str(node.attrs.get("href", "")))
            return f"[{label}]({target})" if target and label.strip() else label
        return self.inline(node)

    def code_span(self, content: str) -> str:
        if self.in_table:
            content = content.replace("|", "\\|")
        ticks = "`" * (1 + max((len(r) for r in re.findall(r"`+", content)), default=0))
        pad = " " if content.startswith(("`", " ")) or content.endswith(("`", " ")) else ""
        return f"{ticks}{pad}{content}{pad}{ticks}"


def plain_to_markdown(text: str) -> str:
    """Cleaned document text (from HTML, PDF or plain text) as escaped Markdown, bullets kept."""
    lines = []
    for line in text.split("\n"):
        bullet = re.match(r"^(\s*)- (.*)$", line)
        lines.append(f"{bullet.group(1)}- {escape_markdown(bullet.group(2))}" if bullet else escape_markdown(line))
    return "\n".join(lines)


@dataclass
class Section:
    """A heading of an article and the safe Markdown under it (level 0: the text before any heading)."""

    level: int
    heading: str  # plain text, as in a chunk's section path
    path: str  # "Heading > Subheading", the same form as Chunk.section
    body: str


def article_source(corpus: Path, doc: Document) -> tuple[str, bool]:
    """(text, is_markdown): the original Markdown body of a .md article, or the document's cleaned text."""
    if doc.format == "markdown":
        root = Path(corpus).resolve()
        path = (root / doc.path).resolve()
        if path.is_relative_to(root) and path.is_file():
            try:
                return split_front_matter(path.read_text(encoding="utf-8-sig"))[1], True
            except (OSError, UnicodeDecodeError, ValueError):
                pass  # changed on disk since the build: the indexed text is still good
    return doc.text, False


def article_sections(text: str, title: str, is_markdown: bool) -> list[Section]:
    """Split an article at its headings; the H1 that repeats the title is dropped, as in chunk paths.

    Markdown is split where markdown-it finds top-level headings (ATX or setext, never inside code) and each
    part is sanitised with the whole article's reference definitions; cleaned text is split at its "# " lines.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    references: dict = {}
    headings = _markdown_headings(lines, references) if is_markdown else _plain_headings(lines)
    sections = [Section(0, "", "", "")]
    parts: list[list[tuple[int, int]]] = [[]]  # the (first, end) line ranges of each section's body
    path = SectionPath(title)  # the same paths as the chunks' sections
    pos = 0
    for level, heading, first, after in headings:
        parts[-1].append((pos, first))
        pos = after
        path.enter(level, heading)
        if heading == title.strip() and (level == 1 or len(sections) == 1):
            continue  # the title again (PDFs may set it at any level): the page shows it already
        sections.append(Section(level, heading, path.path, ""))
        parts.append([])
    parts[-1].append((pos, len(lines)))
    for section, ranges in zip(sections, parts, strict=False):
        raw = "\n\n".join("\n".join(lines[a:b]) for a, b in ranges).strip()
        if is_markdown:
            section.body = _Writer().document(_MD.parse(raw, {"references": dict(references)})).strip() if raw else ""
        else:
            section.body = plain_to_markdown(raw)
    return [s for s in sections if s.level or s.body]


def _markdown_headings(lines: list[str], references: dict) -> list[tuple[int, str, int, int]]:
    """(level, plain heading, first line, line after) of each top-level heading; fills references."""
    env: dict = {}
    tokens = _MD.parse("\n".join(lines), env)
    references.update(env.get("references", {}))
    found = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.level == 0 and token.map:
            heading = " ".join(_plain(SyntaxTreeNode([tokens[i + 1]])).split())
            found.append((int(token.tag[1]), heading, token.map[0], token.map[1]))
    return found


def _plain_headings(lines: list[str]) -> list[tuple[int, str, int, int]]:
    """The same for cleaned text (HTML, PDF, plain text), whose headings are "# " lines (kb.ingest.headings)."""
    return [(h.level, clean_markdown(h.text).strip(), h.line, h.line + 1) for h in find_headings(lines)]


def find_section(sections: list[Section], path: str) -> int | None:
    """The position of the section a citation points at: by full heading path, else by its last heading."""
    path = " ".join(str(path or "").split())
    if not path:
        return None
    for i, section in enumerate(sections):
        if section.path == path:
            return i
    last = path.split(" > ")[-1]
    return next((i for i, s in enumerate(sections) if s.heading == last), None)
