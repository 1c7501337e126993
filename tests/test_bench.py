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
    assert report["texts_embedded"] > report["chunks"]  # passages' sentences and topics too, as the build does
    assert report["build_seconds"] > 0 and report["build_texts_per_s"] > 0 and report["encoder_texts_per_s"] > 0
    assert abs(report["build_vs_encoder"] - report["build_texts_per_s"] / report["encoder_texts_per_s"]) < 0.01
    assert report["incremental_changed"] == ["anger-for-clinicians"] and report["incremental_embedded"] == 1
    assert current_build(settings.index) == live  # the live index and corpus are untouched
    assert "benchmark" not in (settings.corpus / "articles/anger.md").read_text(encoding="utf-8")


def test_bench_ask_times_a_fresh_process_and_warm_answers(settings, embedder):
    build_index(settings, embedder)
    report = bench_ask(settings, repeat=1)
    assert report["answers"] == 10
    assert report["cold_start_to_first_answer_s"] >= report["cold_start_in_process_s"] > 0
    assert 0 < report["warm_answer_median_s"] <= report["warm_answer_p90_s"] <= report["warm_answer_p95_s"]
    assert 0 < report["bare_python_start_s"] < report["cold_start_to_first_answer_s"]  # the floors beside it
    assert report["encoder_one_question_median_ms"] > 0


# --- kb bench load and kb bench scale -----------------------------------------------------------------


def test_the_load_test_counts_answers_errors_and_latency():
    from kb.evaluation.load import drive

    calls = []

    def make():
        def ask(question):
            calls.append(question)
            return 500 if len(calls) % 5 == 0 else 200

        return ask

    report = drive(make, clients=4, seconds=0.3, max_requests=50)
    assert report["requests"] == len(calls) == 50  # the request budget stops it before the clock
    assert report["errors"] == 10 and report["answers"] == 40 and report["statuses"] == {"200": 40, "500": 10}
    assert 0 <= report["latency_p50_s"] <= report["latency_p95_s"] <= report["latency_max_s"]


def test_the_load_test_only_drives_this_machine():
    import pytest

    from kb.errors import InputError
    from kb.evaluation.load import check_loopback

    assert check_loopback("http://127.0.0.1:8501") == ("127.0.0.1", 8501)
    assert check_loopback("http://localhost:9000/") == ("localhost", 9000)
    for url in ("http://example.org:8501", "https://127.0.0.1:8501", "http://10.0.0.5:8501", "ftp://localhost"):
        with pytest.raises(InputError, match="only drives"):
            check_loopback(url)


def test_the_load_test_drives_the_library_when_asked(settings, embedder, monkeypatch):
    from kb.evaluation import load

    build_index(settings, embedder)
    report = load.bench_load(settings, clients=2, seconds=0.5, target="library")
    assert report["target"].startswith("library") and report["answers"] > 0 and report["errors"] == 0


def test_bench_scale_writes_json_and_a_plot_with_each_figure_beside_its_floors(settings, embedder, tmp_path):
    import json

    from kb.evaluation.scale import bench_scale, scale_lines

    build_index(settings, embedder)
    report = bench_scale(settings, [400], tmp_path / "reports")
    row = report["sizes"][0]
    assert "error" not in row, row
    assert row["chunks"] == 400 and row["dense_index"] == "IndexFlatIP" and row["recall_at_10_vs_exact"] == 1.0
    assert row["search_p95_ms"] > 0 and row["exact_search_p95_ms"] > 0 and row["encoder_one_query_p50_ms"] > 0
    assert json.loads((tmp_path / "reports" / "scale.json").read_text())["sizes"][0] == row
    assert (tmp_path / "reports" / "scale.png").read_bytes()[:4] == b"\x89PNG"
    line = scale_lines(report)[0]
    assert "exact search p95" in line and "encoder for one question" in line and "recall@10" in line
