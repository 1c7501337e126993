"""`kb bench targets`: every speed target in one run, each figure beside its floor measured in the same run.

The targets are the product's (build throughput, cold starts, warm answers, search at 100,000 and 1,000,000
chunks, load, the crisis detector). `target_rows` reads the results of the benchmarks that `kb bench` runs
one by one and says, for each target, what was measured, against what floor, and whether it was met; a
benchmark that was skipped (no Chromium) or failed shows as not measured, never as met.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

SCALE_SIZES = (10_000, 100_000, 1_000_000)
BUSY_CLIENTS = 20  # "20 sessions asking at once": the p95 target


@dataclass
class TargetRow:
    target: str
    measured: str
    floor: str  # measured in the same run ("" where the target has none)
    met: bool | None  # None: not measured (a benchmark skipped or failed)


def _size(scale: dict[str, Any] | None, chunks: int) -> dict[str, Any] | None:
    if not scale:
        return None
    return next((r for r in scale.get("sizes", []) if r.get("chunks") == chunks), None)  # an "error" one too


def _row(target: str, source: dict[str, Any] | None, check: Callable[[dict[str, Any]], tuple[str, str, bool]]):
    if not source or "skipped" in source or "error" in source:
        why = (source or {}).get("skipped") or (source or {}).get("error") or "not run"
        return TargetRow(target, f"not measured ({why})", "", None)
    measured, floor, met = check(source)
    return TargetRow(target, measured, floor, met)


def target_rows(results: dict[str, Any]) -> list[TargetRow]:
    """Each target beside what `kb bench` measured for it (results: its sections by name)."""
    index, ask, app = results.get("index"), results.get("ask"), results.get("app")
    crisis, scale = results.get("crisis"), results.get("scale")
    busy, throughput = results.get("load_busy"), results.get("load")
    rows = [
        _row(
            "full build throughput >= 0.95 x the raw encoder",
            index,
            lambda r: (
                f"{r['build_vs_encoder']} x ({r['build_texts_per_s']} texts/s)",
                f"raw encoder on the same texts {r['encoder_texts_per_s']} texts/s",
                r["build_vs_encoder"] >= 0.95,
            ),
        ),
        _row(
            "cold start to first answer, fresh process <= 1.5 s",
            ask,
            lambda r: (
                f"{r['cold_start_to_first_answer_s']} s",
                f"bare Python start {r['bare_python_start_s']} s",
                r["cold_start_to_first_answer_s"] <= 1.5,
            ),
        ),
        _row(
            "`streamlit run app.py` to the first answer on screen <= 5 s",
            app,
            lambda r: (
                f"{r['cold_start_to_first_answer_s']} s",
                f"Streamlit alone {r['floor_streamlit_alone_first_answer_s']} s",
                r["cold_start_to_first_answer_s"] <= 5.0,
            ),
        ),
        _row(
            "warm `kb ask` p95 <= 30 ms on the shipped corpus",
            ask,
            lambda r: (
                f"{round(1000 * r['warm_answer_p95_s'], 1)} ms",
                f"encoder for one question {r['encoder_one_question_median_ms']} ms",
                r["warm_answer_p95_s"] <= 0.030,
            ),
        ),
        _row(
            "hybrid search p95 <= 3 ms at 100,000 chunks",
            _size(scale, 100_000),
            lambda r: (
                f"{r['search_p95_ms']} ms (p50 {r['search_p50_ms']} ms, recall@10 {r['recall_at_10_vs_exact']})",
                f"exact search p95 {r['exact_search_p95_ms']} ms, encoder {r['encoder_one_query_p50_ms']} ms",
                r["search_p95_ms"] <= 3.0,
            ),
        ),
        _row(
            "hybrid search p95 <= 10 ms at 1,000,000 chunks, recall@10 >= 0.95 against exact fusion",
            _size(scale, 1_000_000),
            lambda r: (
                f"{r['search_p95_ms']} ms (p50 {r['search_p50_ms']} ms), recall@10 {r['recall_at_10_vs_exact']}",
                f"exact search p95 {r['exact_search_p95_ms']} ms, encoder {r['encoder_one_query_p50_ms']} ms",
                r["search_p95_ms"] <= 10.0 and r["recall_at_10_vs_exact"] >= 0.95,
            ),
        ),
        _row(
            "memory at 1,000,000 chunks reported (aim <= 3 GB)",
            _size(scale, 1_000_000),
            lambda r: (f"{round(r['memory_mb'] / 1024, 2)} GB", "", r["memory_mb"] <= 3 * 1024),
        ),
        _row(
            f"{BUSY_CLIENTS} sessions asking at once: 0 errors, p95 <= 1 s",
            busy,
            lambda r: (
                f"{r['errors']} errors, p95 {r['latency_p95_s']} s ({r['answers']} answers)",
                f"one answer alone {r['floor_one_answer_ms']} ms",
                r["errors"] == 0 and r["latency_p95_s"] <= 1.0,
            ),
        ),
        _row(
            "throughput through the API >= 30 answers/s, 0 errors",
            throughput,
            lambda r: (
                f"{r['answers_per_s']} answers/s, {r['errors']} errors ({r['clients']} clients)",
                f"{r['floor_answers_per_s_all_cores']} answers/s if every core did one answer after another",
                r["answers_per_s"] >= 30 and r["errors"] == 0,
            ),
        ),
        _row(
            "crisis detector, embedding reused <= 5 ms a message",
            crisis,
            lambda r: (
                f"p95 {r['detector_p95_ms']} ms (median {r['detector_median_ms']} ms)",
                f"encoder for one message {r['floor_encoder_one_message_median_ms']} ms",
                r["detector_p95_ms"] <= 5.0,
            ),
        ),
    ]
    return rows


def targets_report(results: dict[str, Any]) -> dict[str, Any]:
    rows = target_rows(results)
    return {"met": sum(r.met is True for r in rows), "of": len(rows), "targets": [asdict(r) for r in rows]}


def targets_lines(report: dict[str, Any]) -> list[str]:
    """A line per target: met or not, what was measured, its floor in the same run."""
    marks = {True: "met    ", False: "NOT MET", None: "not run"}
    lines = [f"{report['met']} of {report['of']} targets met"]
    for row in report["targets"]:
        floor = f" | floor: {row['floor']}" if row["floor"] else ""
        lines.append(f"{marks[row['met']]}  {row['target']}: {row['measured']}{floor}")
    return lines
