"""Plain-text and Markdown renderings of an answer (for the terminal and for download)."""

from __future__ import annotations

import re
import textwrap

from kb.records import Answer, Crisis


def crisis_as_text(crisis: Crisis) -> list[str]:
    """The crisis panel as lines: urgent in capitals with emergency services first, concern calm."""
    lead = "PLEASE GET HELP NOW:" if crisis.tier == "urgent" else "Help is there any time:"
    lines = [textwrap.fill(crisis.message, 100)] if crisis.message else []
    lines.append(lead)
    lines += [f"  * {r.name}: {r.action}" + (f" ({r.url})" if r.url else "") for r in crisis.resources]
    return [*lines, ""]


def answer_as_text(answer: Answer) -> str:
    """The terminal view: crisis resources first, then the answer, sources, therapists, disclaimer."""
    lines: list[str] = crisis_as_text(answer.crisis) if answer.crisis.detected else []
    for notice in answer.notices:
        lines.append(textwrap.fill(notice, 100))
    if answer.text:
        for part in answer.text.split("\n"):  # a quoted list keeps one item per line
            lines.append(textwrap.fill(part, 100, subsequent_indent="  " if part.startswith("- ") else ""))
        lines.append("")
        if answer.citations:  # an answer from the directory quotes no article
            lines.append("Sources:")
        for c in answer.citations:
            where = f" > {c.section}" if c.section else ""
            page = f", p. {c.page}" if c.page else ""
            lines.append(f"  [{c.n}] {c.title}{where}{page}  {c.url}")
    elif answer.topics:
        lines.append("Topics you could browse: " + ", ".join(answer.topics))
    if answer.therapists:
        lines.append("")
        lines.append("Therapists who work with this (sample data):")
        for t in answer.therapists:
            lines.append(f"  - {t.name}, {t.credentials}: {t.why}  {t.profile_url}")
    lines.append("")
    lines.append(textwrap.fill(answer.disclaimer, 100))
    return "\n".join(lines)


_INLINE = re.compile(r"([\\`*_\[\]~|])")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+(?=[.)]))")


def markdown_text(text: str) -> str:
    """Untrusted text as Markdown any viewer shows literally: no HTML (entities), no marks, links or line-start
    block syntax; one line."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE.sub(r"\\\1", text)
    match = _LINE_START.match(text)
    if not match:
        return text
    if match.group(2)[0].isdigit():  # "1." would start a list: escape the dot
        return text[: match.end()] + "\\" + text[match.end() :]
    return text[: match.start(2)] + "\\" + text[match.start(2) :]


def answer_as_markdown(answer: Answer, references: dict[int, str] | None = None) -> str:
    """A Markdown export of an answer with its citations (clinician view download).

    Every piece of text in it (question, answer, titles, sections, quotes, references) is escaped, so the file
    is safe in any Markdown viewer. references: an APA-style reference per citation number, listed after the
    sources when given.
    """
    out = [f"# {markdown_text(answer.query)}", ""]
    if answer.crisis.detected:
        resources = "; ".join(f"{markdown_text(r.name)}: {markdown_text(r.action)}" for r in answer.crisis.resources)
        out += ["**If you are in crisis:** " + resources, ""]
    if answer.text:  # a quoted list keeps one item per line
        out += [
            "- " + markdown_text(part[2:]) if part.startswith("- ") else markdown_text(part)
            for part in answer.text.split("\n")
        ]
    else:
        out.append("_The library has no answer to this question._")
    out.append("")
    if answer.citations:
        out += ["## Sources", ""]
        for c in answer.citations:
            where = f', section "{markdown_text(c.section)}"' if c.section else ""
            page = f", p. {c.page}" if c.page else ""
            out += [f"{c.n}. **{markdown_text(c.title)}**{where}{page}", "", f"   > {markdown_text(c.quote)}", ""]
        listed = [
            f"[{c.n}] {markdown_text(references[c.n])}" for c in answer.citations if references and c.n in references
        ]
        if listed:
            out += ["## References", ""] + [line + "\n" for line in listed]
    out += [f"_{markdown_text(answer.disclaimer)}_", ""]
    return "\n".join(out)
