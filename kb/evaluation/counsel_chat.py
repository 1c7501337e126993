"""The external benchmark: counsel-chat answers indexed as documents, questions asked against them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from kb.errors import InputError
from kb.evaluation.answers import PARTS, answer_metrics, check_answer, counsel_chat_part, sample, sample_markdown
from kb.evaluation.golden import doc_rankings, fusion_sweep, retrieval_table
from kb.evaluation.metrics import retrieval_summary
from kb.index.build import build_index
from kb.knowledge_base import KnowledgeBase
from kb.records import Crisis
from kb.safety.rules import RuleMatcher, normalize
from kb.safety.training import CrisisItem


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The data set's rows; a missing file says where it was expected."""
    if not Path(path).is_file():
        raise InputError(f"counsel-chat data not found at {path} (expected ../shared/data/counsel-chat/train.jsonl)")
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def write_corpus(rows: list[dict[str, Any]], folder: Path) -> dict[str, list[str]]:
    """One text file per therapist answer (rewritten only when changed); returns question id -> doc ids."""
    folder.mkdir(parents=True, exist_ok=True)
    relevant: dict[str, list[str]] = {}
    for row in rows:
        for j, text in enumerate(row.get("answers") or []):
            if not str(text).strip():
                continue
            doc_id = f"{row['id']}/a{j}"
            path = folder / f"{doc_id}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            relevant.setdefault(row["id"], []).append(doc_id)
    return relevant


def question_text(row: dict[str, Any]) -> str:
    return f"{row.get('title') or ''}\n{row.get('text') or ''}".strip()


def evaluate_counsel_chat(
    kb: KnowledgeBase,
    data: Path,
    cache: Path,
    topic_map: Path | None = None,
    sweep: list[float] | None = None,
    modes=("bm25", "dense", "hybrid"),
) -> dict[str, Any]:
    """Retrieval metrics per retriever on counsel-chat, plus therapist matching on its questions."""
    rows = load_rows(data)
    relevant = write_corpus(rows, cache / "corpus")
    settings = kb.settings.replace(corpus=cache / "corpus", index=cache / "index")
    build = build_index(settings, kb.embedder)
    bench = KnowledgeBase(settings, kb.embedder)
    asked = [r for r in rows if r["id"] in relevant and question_text(r)]
    questions = [question_text(r) for r in asked]
    truth = [relevant[r["id"]] for r in asked]
    rankings = doc_rankings(bench, questions, modes)
    parts = [counsel_chat_part(r["id"]) for r in asked]

    def summary(mode: str, part: str | None = None) -> dict[str, float]:
        runs = [(r, t) for r, t, p in zip(rankings[mode], truth, parts, strict=True) if part in (None, p)]
        return retrieval_summary(runs, graded=False)

    report: dict[str, Any] = {
        "dataset": "counsel-chat",
        "questions": len(asked),
        "documents": build.documents,
        "chunks": build.chunks,
        "fusion": {"method": settings.fusion, "dense_weight": settings.dense_weight},
        "retrieval": {m: summary(m) for m in modes},
        # Train: ours to tune on; held-out: measured only (kb.evaluation.answers.counsel_chat_part).
        "retrieval_by_part": {part: {m: summary(m, part) for m in modes} for part in PARTS},
    }
    if sweep:  # fusion settings are chosen on the train part only: held-out questions never enter the sweep
        train = [i for i, p in enumerate(parts) if p == "train"]
        report["fusion_sweep"] = fusion_sweep(
            bench, [questions[i] for i in train], [truth[i] for i in train], sweep, graded=False
        )
    if topic_map is not None and Path(topic_map).is_file() and kb.directory.therapists:
        mapping = yaml.safe_load(Path(topic_map).read_text(encoding="utf-8")) or {}
        found = {part: [0, 0] for part in PARTS}  # part -> [hits, questions]
        for row in (r for r in asked if mapping.get(r.get("topic"))):
            matches = kb.ask(question_text(row)).therapists  # what a visitor sees: none beside an abstention
            tally = found[counsel_chat_part(row["id"])]
            tally[0] += any(set(mapping[row["topic"]]) & set(m.specialties) for m in matches[:3])
            tally[1] += 1
        hits, total = sum(h for h, _ in found.values()), sum(n for _, n in found.values())
        report["matching"] = {
            "questions": total,
            "hit@3": hits / total if total else 0.0,
            "by_part": {p: {"questions": n, "hit@3": h / n if n else 0.0} for p, (h, n) in found.items()},
        }
    return report


def counsel_chat_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Evaluation: counsel-chat (external)",
        "",
        f"{report['questions']} questions against {report['documents']} therapist answers "
        f"({report['chunks']} chunks); relevant = the answers to that question.",
        "",
        *retrieval_table(report["retrieval"]),
        "",
    ]
    for part, table in (report.get("retrieval_by_part") or {}).items():
        lines += [f"### Questions of the {part} part ({next(iter(table.values()))['queries']})", ""]
        lines += [*retrieval_table(table), ""]
    if "matching" in report:
        m = report["matching"]
        lines += [
            f"Therapist matching: top-3 includes a specialist in the question's mapped topic for "
            f"{m['hit@3']:.3f} of {m['questions']} questions"
            + "".join(f"; {p} {v['hit@3']:.3f} of {v['questions']}" for p, v in (m.get("by_part") or {}).items())
            + ".",
            "",
        ]
    if report.get("fusion_sweep"):
        queries = report["fusion_sweep"][0]["queries"]
        lines += [f"## Fusion sweep (hybrid, train part only: {queries} questions)", ""]
        lines += ["| fusion | nDCG@10 | Recall@10 |", "|---|---|---|"]
        lines += [f"| {r['fusion']} | {r['ndcg@10']:.3f} | {r['recall@10']:.3f} |" for r in report["fusion_sweep"]]
    return "\n".join(lines) + "\n"


def counsel_chat_answers(kb, data: Path, part: str = "train") -> tuple[dict[str, Any], str]:
    """Answer metrics and the sample for counsel-chat questions of one part, asked of the shipped library.

    part: 'train' (the default, ours to read and tune on) or 'held-out' (for a final, untuned measurement).
    """
    rows = [r for r in load_rows(data) if counsel_chat_part(r["id"]) == part and question_text(r)]
    checks = [check_answer(question_text(r), kb.ask(question_text(r))) for r in rows]
    return (
        {"part": part, **answer_metrics(checks)},
        sample_markdown(f"Answers: counsel-chat questions ({part} part)", sample(checks)),
    )


REAL_LABELS = Path(__file__).resolve().parents[2] / "tests" / "eval" / "crisis" / "real-labels.jsonl"


def real_questions(path: Path | None, labels: Path | None = REAL_LABELS) -> tuple[list[str], list[CrisisItem]]:
    """Questions real visitors asked (the train part of counsel-chat, read at run time, never copied): the
    ordinary ones, which the classifier must not alarm on, and the crises among them as labelled items.

    labels: a reader's crisis labels for those questions by id (no text; `real-labels.jsonl`). Without them,
    a question any crisis pattern recognises is left out, the rest counted ordinary; with them, each is
    what its label says."""
    if path is None or not path.is_file():
        return [], []
    known = {}
    if labels is not None and labels.is_file():
        for line in labels.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                known[str(row["id"])] = row
    matcher, ordinary, crises = RuleMatcher(), [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else None
        if not row or counsel_chat_part(str(row.get("id"))) != "train":
            continue
        text = f"{row.get('title') or ''}. {row.get('text') or ''}".strip(". ")
        if not text:
            continue
        label = known.get(str(row.get("id")))
        if label is None:
            if not matcher.match(normalize(text)).hits:
                ordinary.append(text)
        elif label["crisis"]:
            crises.append(
                CrisisItem(
                    f"real-{row['id']}",
                    text,
                    True,
                    label["tier"],
                    label["kind"],
                    bool(label["about_someone_else"]),
                    "en",
                    "real-question",
                )
            )
        else:
            ordinary.append(text)
    return ordinary, crises


def evaluate_real(detect: Callable[[str], Crisis], data: Path, labels: Mapping[str, Path]) -> dict[str, Any]:
    """Real visitors' questions (counsel-chat, read at run time) against a reader's crisis labels, by part:
    crises detected and ordinary questions alarmed. The train part's labels clean the training data; the
    held-out part's are never used to tune anything. Empty when the data set is not there."""
    if not Path(data).is_file():
        return {}
    rows = {str(r["id"]): r for r in load_rows(Path(data))}
    out: dict[str, Any] = {}
    for part, path in labels.items():
        if not path.is_file():
            continue
        crises = ordinary = detected = alarmed = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            label = json.loads(line) if line.strip() else None
            if label is None or str(label["id"]) not in rows:
                continue
            shown = detect(question_text(rows[str(label["id"])])).detected
            if label["crisis"]:
                crises, detected = crises + 1, detected + shown
            else:
                ordinary, alarmed = ordinary + 1, alarmed + shown
        out[part] = {"crises": crises, "detected": detected, "ordinary": ordinary, "alarmed": alarmed}
    return out
