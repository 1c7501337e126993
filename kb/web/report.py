"""`kb report` and the About page's maintainer section: which articles help, which answers disappoint, and
what visitors need, from the feedback file's dates, chunk ids, kinds and counts (there is no question to show).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.config import Settings
from kb.index.store import current_build, read_chunks, read_documents
from kb.web.feedback import DemandCount, Feedback, FeedbackStore


@dataclass
class ArticleFeedback:
    """Thumbs on answers that cited an article."""

    doc_id: str
    title: str
    helpful: int = 0
    unhelpful: int = 0


@dataclass
class Report:
    """Everything `kb report` prints and draws."""

    articles: list[ArticleFeedback]
    by_kind: dict[str, dict[str, int]]  # answer kind -> {"helpful": n, "unhelpful": n}
    demand: dict[str, dict[str, dict[str, int]]]  # counter -> week -> key -> n
    feedback_count: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "feedback": self.feedback_count,
            "by_kind": self.by_kind,
            "articles": [a.__dict__ for a in self.articles],
            "demand": self.demand,
            "notes": self.notes,
        }


def chunk_documents(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """chunk id -> document id and document id -> title, from the live build (empty without one)."""
    build = current_build(settings.index)
    if build is None:
        return {}, {}
    chunks, _ = read_chunks(build)
    return {c.id: c.doc_id for c in chunks}, {d.id: d.title for d in read_documents(build).values()}


def build_report(
    feedback: list[Feedback], demand: list[DemandCount], chunk_doc: dict[str, str], titles: dict[str, str]
) -> Report:
    """Tally thumbs per cited article and per answer kind, and demand per counter and week."""
    articles: dict[str, ArticleFeedback] = {}
    kinds: dict[str, Counter] = defaultdict(Counter)
    notes = []
    unknown = 0
    for row in feedback:
        kinds[row.kind]["helpful" if row.helpful else "unhelpful"] += 1
        for doc_id in dict.fromkeys(chunk_doc.get(c, "") for c in row.chunk_ids):
            if not doc_id:
                unknown += 1
                continue
            entry = articles.setdefault(doc_id, ArticleFeedback(doc_id, titles.get(doc_id, doc_id)))
            if row.helpful:
                entry.helpful += 1
            else:
                entry.unhelpful += 1
    if unknown:
        notes.append(f"{unknown} cited passages are no longer in the index (the article changed since).")
    table: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for c in demand:
        table[c.counter][c.week][c.key] = c.n
    ranked = sorted(articles.values(), key=lambda a: (a.helpful - a.unhelpful, a.title))  # worst first
    return Report(
        ranked,
        {k: dict(v) for k, v in sorted(kinds.items())},
        {k: {w: dict(keys) for w, keys in weeks.items()} for k, weeks in table.items()},
        len(feedback),
        notes,
    )


def load_report(settings: Settings) -> Report:
    store = FeedbackStore(settings.feedback_db)
    chunk_doc, titles = chunk_documents(settings)
    return build_report(store.feedback(), store.demand(), chunk_doc, titles)


def demand_figure(report: Report, labels: dict[str, str] | None = None):
    """A matplotlib figure: topics asked about per week (stacked), and abstentions, crisis panels and
    directory questions per week."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels = labels or {}
    fig = Figure(figsize=(9, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    topics = report.demand.get("topic", {})
    weeks = sorted({w for counter in report.demand.values() for w in counter})
    totals: Counter[str] = Counter()
    for keys in topics.values():
        totals.update(keys)
    base = [0] * len(weeks)
    for tid, _ in totals.most_common(8):
        values = [topics.get(w, {}).get(tid, 0) for w in weeks]
        top.bar(weeks, values, bottom=base, label=labels.get(tid, tid))
        base = [b + v for b, v in zip(base, values, strict=False)]
    top.set_title("Topics of questions per week")
    top.set_ylabel("questions")
    if totals:
        top.legend(fontsize="small", loc="upper left")
    series = {
        "Abstentions": report.demand.get("abstention", {}),
        "Directory questions": report.demand.get("directory", {}),
    }
    for tier, name in (
        ("urgent", "Crisis panels (urgent)"),
        ("concern", "Crisis panels (concern)"),
        ("detected", "Crisis panels"),
    ):
        series[name] = {w: {tier: keys.get(tier, 0)} for w, keys in report.demand.get("crisis", {}).items()}
    for name, by_week in series.items():
        values = [sum(by_week.get(w, {}).values()) for w in weeks]
        if any(values):
            bottom.plot(weeks, values, marker="o", label=name)
    bottom.set_title("Abstentions, crisis panels and directory questions per week")
    bottom.set_ylabel("count")
    if bottom.get_lines():
        bottom.legend(fontsize="small", loc="upper left")
    if not weeks:
        top.text(0.5, 0.5, "No questions counted yet", ha="center", va="center", transform=top.transAxes)
    return fig


def report_markdown(report: Report) -> str:
    lines = ["# Feedback and demand", "", f"{report.feedback_count} answers rated.", ""]
    if report.by_kind:
        lines += ["| Answer kind | Helpful | Not helpful |", "|---|---|---|"]
        lines += [f"| {kind} | {v.get('helpful', 0)} | {v.get('unhelpful', 0)} |" for kind, v in report.by_kind.items()]
        lines.append("")
    if report.articles:
        lines += [
            "## Articles cited in rated answers (most disappointing first)",
            "",
            "| Article | Helpful | Not helpful |",
            "|---|---|---|",
        ]
        lines += [f"| {a.title} (`{a.doc_id}`) | {a.helpful} | {a.unhelpful} |" for a in report.articles]
        lines.append("")
    totals: Counter = Counter()
    for keys in report.demand.get("topic", {}).values():
        totals.update(keys)
    if totals:
        lines += ["## Topics asked about (all weeks)", ""] + [f"- {tid}: {n}" for tid, n in totals.most_common()]
        lines.append("")
    for counter, title in (
        ("abstention", "Abstentions"),
        ("crisis", "Crisis panels by tier"),
        ("directory", "Directory questions"),
    ):
        weeks = report.demand.get(counter, {})
        if weeks:
            lines += [f"## {title} per week", ""]
            lines += [
                f"- {w}: " + ", ".join(f"{k} {n}" if k != "all" else str(n) for k, n in sorted(keys.items()))
                for w, keys in sorted(weeks.items())
            ]
            lines.append("")
    lines += [f"_{note}_" for note in report.notes]
    return "\n".join(lines).rstrip() + "\n"


def write_report(settings: Settings, out: Path, labels: dict[str, str] | None = None) -> tuple[Report, list[Path]]:
    """Write reports/feedback.md, feedback.json and demand.png; return the report and the paths."""
    import json

    report = load_report(settings)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "feedback.md", out / "feedback.json", out / "demand.png"]
    paths[0].write_text(report_markdown(report), encoding="utf-8")
    paths[1].write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
    demand_figure(report, labels).savefig(paths[2], dpi=110)
    return report, paths
