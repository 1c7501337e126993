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

from kb.retrieval.bm25 import tokenize
from kb.config import Settings
from kb.ingest.loaders import clean_markdown, split_front_matter
from kb.records import Document
from kb.retrieval.searcher import article_url

PRACTICE_NAME = Settings.practice_name  # the default author of the library in citations (setting practice_name)
LIBRARY_NAME = "Psychoeducation library"

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:&^=])")
_WORD = re.compile(r"\w+")
_MARKER = re.compile(r"\[(\d+)\]")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_HTML = re.compile(r"<!--.*?-->|</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>", re.S)
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^<>\s]+)>")
_INLINE_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(([^)\s]*)(?:\s+\"[^\"\n]*\")?\)")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*\S+.*$", re.M)
_URL = re.compile(r"https?://[^\s<>\"'()]+")
# Words a question is made of but an answer is not about (BM25's own stopword list is short).
_QUIET = frozenset("""i me my mine myself you your we our us he she him her his its them what why how when where
which who whom whose do does did done doing can could would should shall may might must have has had am been
being so too very just about than from up out over any some all get got""".split())
_PHONE = re.compile(r"\b\d(?:-?\d){2,}\b")


def escape_markdown(text: str) -> str:
    """Text that st.markdown shows literally: every Markdown, LaTeX and directive character escaped."""
    return _SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", str(text)))


def safe_url(url: str) -> str | None:
    """The url if it is http(s) with a host, mailto:, tel: or an in-app path; otherwise None."""
    url = str(url or "").strip()
    if not url or any(c.isspace() or c in "<>\"'()\\`" or ord(c) < 32 for c in url):
        return None
    if url.startswith("/") and not url.startswith("//"):
        return url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    if parts.scheme in ("mailto", "tel") and parts.path:
        return url
    return None


def link(label: str, url: str) -> str:
    """A Markdown link with an escaped label, or just the escaped label when the url is not safe."""
    target = safe_url(url)
    return f"[{escape_markdown(label)}]({target})" if target else escape_markdown(label)


def linkify(text: str) -> str:
    """Escaped text with its safe http(s) addresses as links (for reference lists)."""
    out, pos = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;")
        out += [escape_markdown(text[pos:match.start()]), link(url, url)]
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
            out.append(escape_markdown(text[pos:match.start()]) if pos < match.start() else "")
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
        out.append(escape_markdown(action[pos:match.start()]))
        out.append(f"[{escape_markdown(match.group(0))}](tel:{re.sub(r'[^0-9]', '', match.group(0))})")
        pos = match.end()
    out.append(escape_markdown(action[pos:]))
    return "".join(out)


def apa_citation(doc: Document, section: str = "", practice: str = PRACTICE_NAME) -> str:
    """APA-style reference to an article in the library, retrieved from its in-app path."""
    reviewed = str(doc.metadata.get("last_reviewed") or "")
    year = reviewed[:4] if re.match(r"\d{4}", reviewed) else "n.d."
    title = doc.title.strip()
    title += "" if title.endswith((".", "?", "!")) else "."
    return f"{practice}. ({year}). {title} In {LIBRARY_NAME}. Retrieved from {article_url(doc.id, section)}"


def sanitize_markdown(body: str) -> str:
    """Corpus Markdown made safe for st.markdown: no raw HTML, no images, only safe links, no LaTeX."""
    body = _AUTOLINK.sub(r"\1", body)
    body = _HTML.sub("", body)
    body = _REF_DEF.sub("", body)

    def relink(m: re.Match) -> str:
        label = m.group(2)
        if m.group(1):  # an image: its alt text only, never a request for the picture
            return escape_markdown(label)
        target = safe_url(m.group(3))
        return f"[{label}]({target})" if target else label

    body = _INLINE_LINK.sub(relink, body)
    body = body.replace("![", "!\\[").replace("<", "\\<")  # leftover images and autolinks become text
    return re.sub(r"(?<!\\)\$", r"\\$", body)


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
    """Split an article at its headings; the H1 that repeats the title is dropped, as in chunk paths."""
    sections = [Section(0, "", "", "")]
    stack: list[tuple[int, str]] = []
    bodies: list[list[str]] = [[]]
    in_fence = False
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if not match:
            bodies[-1].append(line)
            continue
        level, heading = len(match.group(1)), clean_markdown(match.group(2)).strip()
        stack = [(lv, h) for lv, h in stack if lv < level] + [(level, heading)]
        if heading == title.strip() and (level == 1 or len(sections) == 1):
            continue  # the title again (PDFs may set it at any level): the page shows it already
        path = " > ".join(h for lv, h in stack if not (lv == 1 and h == title.strip()))
        sections.append(Section(level, heading, path, ""))
        bodies.append([])
    for section, lines in zip(sections, bodies):
        raw = "\n".join(lines).strip()
        section.body = sanitize_markdown(raw) if is_markdown else plain_to_markdown(raw)
    return [s for s in sections if s.level or s.body]


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
