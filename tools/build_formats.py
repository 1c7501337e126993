"""Make the shipped PDF handouts and the HTML article from their Markdown sources.

Usage: python tools/build_formats.py   (needs the dev extras: fpdf2, markdown-it-py)

tools/handouts/*.md -> corpus/handouts/<id>.pdf  (front matter -> PDF Title, Subject, Keywords)
tools/html/*.md     -> corpus/articles/<id>.html (front matter -> <title> and <meta name="kb:...">)
The shipped corpus thereby exercises every loader with our own text.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.ingest.loaders import split_front_matter  # noqa: E402

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
ASCII = {"’": "'", "‘": "'", "“": '"', "”": '"', "—": "-", "–": "-", "…": "...", "•": "-", "\u00a0": " "}


def _inline(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1", r"\2", text)


def make_pdf(source: Path, out_dir: Path) -> Path:
    from fpdf import FPDF

    meta, body = split_front_matter(source.read_text(encoding="utf-8"))
    pdf = FPDF(format="Letter")
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(True, margin=20)
    if (FONT_DIR / "DejaVuSans.ttf").is_file():
        pdf.add_font("Body", "", str(FONT_DIR / "DejaVuSans.ttf"))
        pdf.add_font("Body", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        family, clean = "Body", (lambda s: s)
    else:  # core fonts are Latin-1 only

        def clean(s: str) -> str:
            return "".join(ASCII.get(c, c) for c in s).encode("latin-1", "replace").decode("latin-1")

        family = "Helvetica"
    pdf.set_title(str(meta.get("title", source.stem)))
    pdf.set_subject(str(meta.get("summary", "")))
    pdf.set_keywords(", ".join(meta.get("topics", [])))
    pdf.set_author("Psychoeducation library")
    pdf.set_creator("tools/build_formats.py")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for block in re.split(r"\n\s*\n", body.strip()):
        for line in block.split("\n") if block.lstrip().startswith(("-", "*")) else [" ".join(block.split())]:
            line = _inline(line.strip())
            if not line:
                continue
            heading = re.match(r"^(#{1,6})\s+(.*)", line)
            if heading:
                size = {1: 17, 2: 13}.get(len(heading.group(1)), 11.5)
                pdf.ln(2)
                pdf.set_font(family, "B", size)
                pdf.multi_cell(width, size * 0.5, clean(heading.group(2)), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
                continue
            pdf.set_font(family, "", 10.5)
            if re.match(r"^[-*]\s+", line):
                line = re.sub(r"^[-*]\s+(\[ \]\s*)?", lambda m: "[  ] " if m.group(1) else "- ", line)
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(width - 4, 5.4, clean(line), new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.multi_cell(width, 5.4, clean(line), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
    out = out_dir / f"{meta.get('id', source.stem)}.pdf"
    pdf.output(str(out))
    return out


def make_html(source: Path, out_dir: Path) -> Path:
    from markdown_it import MarkdownIt

    meta, body = split_front_matter(source.read_text(encoding="utf-8"))
    heads = [
        f"<title>{html.escape(str(meta.get('title', source.stem)))}</title>",
        f'<meta name="description" content="{html.escape(str(meta.get("summary", "")))}">',
    ]
    for field in ("id", "audience", "last_reviewed", "reviewed_by"):
        if meta.get(field):
            heads.append(f'<meta name="kb:{field}" content="{html.escape(str(meta[field]))}">')
    for field in ("topics", "related"):
        if meta.get(field):
            heads.append(f'<meta name="kb:{field}" content="{html.escape(", ".join(meta[field]))}">')
    for ref in meta.get("references", []):
        heads.append(f'<meta name="kb:reference" content="{html.escape(str(ref))}">')
    page = (
        '<!DOCTYPE html>\n<html lang="en-CA">\n<head>\n<meta charset="utf-8">\n'
        + "\n".join(heads)
        + '\n</head>\n<body>\n<nav><a href="/">Home</a> | <a href="/therapists">Our therapists</a></nav>\n'
        + "<main>\n"
        + MarkdownIt().render(body)
        + "</main>\n<footer>Psychoeducation library</footer>\n"
        + "</body>\n</html>\n"
    )
    out = out_dir / f"{meta.get('id', source.stem)}.html"
    out.write_text(page, encoding="utf-8")
    return out


def main() -> None:
    (ROOT / "corpus/handouts").mkdir(parents=True, exist_ok=True)
    for source in sorted((ROOT / "tools/handouts").glob("*.md")):
        print("wrote", make_pdf(source, ROOT / "corpus/handouts").relative_to(ROOT))
    for source in sorted((ROOT / "tools/html").glob("*.md")):
        print("wrote", make_html(source, ROOT / "corpus/articles").relative_to(ROOT))


if __name__ == "__main__":
    main()
