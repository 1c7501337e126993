"""`kb bench`: the numbers it reports come from real builds and answers (fake model here; the browser test
module runs the app measurement)."""

from __future__ import annotations

from kb.evaluation.bench import bench_ask, bench_index
from kb.index.build import build_index
from kb.index.store import current_build


def test_bench_index_builds_a_copy_then_changes_one_article(settings, embedder):
    build_index(settings, embedder)
    live = current_build(settings.index)
    report = bench_index(settings, embedder)
    assert report["documents"] == 3 and report["chunks"] > 3
    assert report["build_seconds"] > 0 and report["build_chunks_per_s"] > 0 and report["encoder_chunks_per_s"] > 0
    assert abs(report["build_vs_encoder"] - report["build_chunks_per_s"] / report["encoder_chunks_per_s"]) < 0.01
    assert report["incremental_changed"] == ["anger-for-clinicians"] and report["incremental_embedded"] == 1
    assert current_build(settings.index) == live  # the live index and corpus are untouched
    assert "benchmark" not in (settings.corpus / "articles/anger.md").read_text(encoding="utf-8")


def test_bench_ask_times_a_fresh_process_and_warm_answers(settings, embedder):
    build_index(settings, embedder)
    report = bench_ask(settings, repeat=1)
    assert report["answers"] == 10
    assert report["cold_start_to_first_answer_s"] >= report["cold_start_in_process_s"] > 0
    assert 0 < report["warm_answer_median_s"] <= report["warm_answer_p90_s"]
