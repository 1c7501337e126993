"""`kb eval`: retrieval, abstention, faithfulness, therapist matching and crisis metrics on the golden set."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import yaml

from kb.answering.compose import clean_query, is_faithful
from kb.evaluation.answers import answer_metrics, check_answer, metrics_markdown, sample, sample_markdown
from kb.evaluation.crisis import evaluate_crisis
from kb.evaluation.golden_set import KINDS, GoldenItem, load_golden  # noqa: F401 - load_golden: kb eval reads it here
from kb.evaluation.metrics import dedupe, precision_recall, retrieval_summary
from kb.knowledge_base import KnowledgeBase

DEPTH = 50  # chunks ranked per query before documents are counted
THRESHOLDS = [round(0.20 + 0.01 * i, 2) for i in range(36)]


def doc_rankings(kb: KnowledgeBase, questions: list[str], modes: tuple[str, ...]) -> dict[str, list[list[str]]]:
    """Per mode, the document ranking of each question (one embedding pass per question)."""
    searcher = kb.searcher
    allowed = searcher.mask()
    out: dict[str, list[list[str]]] = {m: [] for m in modes}
    questions = [kb.retrieval_query(q) for q in questions]
    vectors = kb.embedder.embed(questions)  # one batched pass is much faster than one call per question
    for question, vector in zip(questions, vectors, strict=False):
        dense, bm25 = searcher.scores(question, vector)
        for mode in modes:
            hits = searcher.rank(dense, bm25, DEPTH, mode, allowed, max_per_doc=0, query=question)
            out[mode].append(dedupe([h.chunk.doc_id for h in hits]))
    return out


def fusion_sweep(
    kb: KnowledgeBase, questions: list[str], relevant: list[list[str]], weights: list[float], graded: bool = True
) -> list[dict[str, Any]]:
    """nDCG@10 and Recall@10 of convex fusion at each dense weight, and of RRF, on the same queries.

    graded: as in retrieval_summary; pass the value the main table used, so the rows compare with it.
    """
    searcher = kb.searcher
    allowed = searcher.mask()
    questions = [kb.retrieval_query(q) for q in questions]
    scored = [searcher.scores(q, v) for q, v in zip(questions, kb.embedder.embed(questions), strict=False)]
    rows = []
    base = kb.settings
    for label, settings in [(f"convex w={w:.2f}", base.replace(fusion="convex", dense_weight=w)) for w in weights] + [
        ("rrf k=60", base.replace(fusion="rrf", rrf_k=60))
    ]:
        searcher.settings = settings
        runs = [
            (dedupe([h.chunk.doc_id for h in searcher.rank(d, b, DEPTH, "hybrid", allowed, max_per_doc=0)]), rel)
            for (d, b), rel in zip(scored, relevant, strict=False)
        ]
        summary = retrieval_summary(runs, graded)
        rows.append(
            {"fusion": label, "ndcg@10": summary["ndcg@10"], "recall@10": summary["recall@10"], "queries": len(runs)}
        )
    searcher.settings = base
    return rows


def evaluate_golden(kb: KnowledgeBase, items: list[GoldenItem], modes=("bm25", "dense", "hybrid")) -> dict[str, Any]:
    """Every golden-set metric the issues ask for, in one report dict."""
    report: dict[str, Any] = {
        "dataset": "golden",
        "items": len(items),
        "kinds": {k: sum(i.kind == k for i in items) for k in KINDS},
    }
    graded = [i for i in items if i.should_answer and i.expected_articles]
    rankings = doc_rankings(kb, [i.question for i in graded], modes)
    report["retrieval"] = {
        m: retrieval_summary(list(zip(rankings[m], [i.expected_articles for i in graded], strict=False))) for m in modes
    }
    # Abstention: off-topic items should abstain; answerable and near-miss should not. The decision is the
    # one ask() makes (kb.answering.decide), on the passages ask() retrieves; the sweep varies the English bar.
    judged = [i for i in items if i.kind != "crisis"]
    retrieved = []
    for item in judged:
        text, _ = clean_query(item.question)
        query = kb.understand(text)
        retrieved.append((query, kb.retrieve(query, kb.check_safety(text, query))))

    def abstains(threshold: float) -> list[bool]:
        return [kb.decide(query, retrieval, below=threshold).abstain for query, retrieval in retrieved]

    actual = [i.kind == "off-topic" for i in judged]
    threshold = kb.settings.abstain_below
    report["abstention"] = {
        "threshold": threshold,
        **precision_recall(abstains(threshold), actual),
        "sweep": [{"threshold": t, **precision_recall(abstains(t), actual)} for t in THRESHOLDS],
    }
    # Answers, faithfulness and therapist matching, through the same path a visitor uses.
    specialties = {s for t in kb.directory.therapists for s in t.specialties}
    faithful = answered = matched = matchable = 0
    misses: list[str] = []
    checks = []
    for item in items:
        if item.kind == "off-topic":
            continue
        answer = kb.ask(item.question)
        checks.append(check_answer(item.question, answer))
        if answer.text and not answer.from_directory:  # a directory answer quotes no passage
            answered += 1
            ok = is_faithful(answer.text, answer.citations, answer.passages)
            faithful += ok
            if not ok:
                misses.append(item.id)
        wanted = set(item.expected_topics) & specialties
        if item.kind == "answerable" and wanted:
            matchable += 1
            matched += any(wanted & set(t.specialties) for t in answer.therapists[:3])
    report["faithfulness"] = {
        "answers": answered,
        "faithful": faithful,
        "rate": faithful / answered if answered else 1.0,
        "unfaithful_ids": misses,
    }
    report["matching"] = {"questions": matchable, "hit@3": matched / matchable if matchable else 0.0}
    report["answers"] = answer_metrics(checks)
    report["answer_sample"] = sample_markdown("Answers: golden set (all but off-topic)", sample(checks))
    report["crisis"] = evaluate_crisis(kb.detect_crisis, [asdict(i) for i in items])
    return report


def retrieval_table(retrieval: dict[str, dict[str, float]]) -> list[str]:
    cols = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"]
    lines = ["| retriever | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for mode, summary in retrieval.items():
        lines.append(f"| {mode} | " + " | ".join(f"{summary[c]:.3f}" for c in cols) + " |")
    return lines


def golden_markdown(report: dict[str, Any]) -> str:
    """The golden-set report as Markdown."""
    ab, fa, ma = report["abstention"], report["faithfulness"], report["matching"]
    lines = [
        "# Evaluation: golden set",
        "",
        f"{report['items']} questions: {report['kinds']}",
        "",
        "## Retrieval (answerable and near-miss questions, document level)",
        "",
        *retrieval_table(report["retrieval"]),
        "",
        "## Abstention (off-topic should abstain)",
        "",
        f"threshold {ab['threshold']}: precision {ab['precision']:.3f}, recall {ab['recall']:.3f}",
        "",
        "## Answers",
        "",
        f"citation faithfulness: {fa['faithful']}/{fa['answers']} = {fa['rate']:.3f}",
        "",
        *(metrics_markdown(report["answers"]) if "answers" in report else []),
        "## Therapist matching",
        "",
        f"top-3 includes a specialist in an expected topic: {ma['hit@3']:.3f} of {ma['questions']} questions",
        "",
    ]
    crisis = report.get("crisis") or {}
    if crisis:
        lines += ["## Crisis detection", "", "```", yaml.safe_dump(crisis, sort_keys=False).strip(), "```", ""]
    if report.get("fusion_sweep"):
        lines += ["## Fusion sweep (hybrid)", "", "| fusion | nDCG@10 | Recall@10 |", "|---|---|---|"]
        lines += [f"| {r['fusion']} | {r['ndcg@10']:.3f} | {r['recall@10']:.3f} |" for r in report["fusion_sweep"]]
    return "\n".join(lines) + "\n"
