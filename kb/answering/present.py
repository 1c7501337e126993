"""Plain-text and Markdown renderings of an answer (for the terminal and for download)."""

from __future__ import annotations

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


def answer_as_markdown(answer: Answer, references: dict[int, str] | None = None) -> str:
    """A Markdown export of an answer with its citations (clinician view download).

    references: an APA-style reference per citation number, listed after the sources when given.
    """
    out = [f"# {answer.query}", ""]
    if answer.crisis.detected:
        out += ["**If you are in crisis:** " + "; ".join(f"{r.name}: {r.action}" for r in answer.crisis.resources), ""]
    out += [answer.text or "_The library has no answer to this question._", ""]
    if answer.citations:
        out += ["## Sources", ""]
        for c in answer.citations:
            where = f", section \"{c.section}\"" if c.section else ""
            page = f", p. {c.page}" if c.page else ""
            out += [f"{c.n}. **{c.title}**{where}{page}", "", f"   > {c.quote}", ""]
        listed = [f"[{c.n}] {references[c.n]}" for c in answer.citations if references and c.n in references]
        if listed:
            out += ["## References", ""] + [line + "\n" for line in listed]
    out += [f"_{answer.disclaimer}_", ""]
    return "\n".join(out)
