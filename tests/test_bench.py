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
    first, second = report["build_runs_s"]  # a full build before the encoder's run and one after it
    assert abs(report["build_seconds"] - (first + second) / 2) < 0.01
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


# --- kb bench targets -------------------------------------------------------------------------------


def measured(**changes):
    """What each benchmark reports, with figures that meet every target unless changed."""
    size = {"dense_index": "IndexIVFFlat", "search_p50_ms": 1.1, "exact_search_p95_ms": 12.0}
    size |= {"encoder_one_query_p50_ms": 3.5, "filtered_search_p95_ms": 2.7, "memory_mb": 350.0}
    size |= {"build_seconds": 7.0, "load_average": 1.0}
    results = {
        "crisis": {"detector_median_ms": 0.4, "detector_p95_ms": 1.5, "floor_encoder_one_message_median_ms": 5.2},
        "index": {"build_vs_encoder": 0.97, "build_texts_per_s": 230.0, "encoder_texts_per_s": 237.0},
        "ask": {
            "cold_start_to_first_answer_s": 0.7,
            "bare_python_start_s": 0.02,
            "warm_answer_p95_s": 0.009,
            "encoder_one_question_median_ms": 3.1,
        },
        "app": {"cold_start_to_first_answer_s": 2.9, "floor_streamlit_alone_first_answer_s": 1.7},
        "load_busy": {
            "errors": 0,
            "latency_p95_s": 0.2,
            "answers": 4000,
            "answers_per_s": 150.0,
            "clients": 20,
            "floor_one_answer_ms": 5.2,
            "floor_answers_per_s_all_cores": 385.0,
        },
        "load": {
            "errors": 0,
            "latency_p95_s": 0.29,
            "answers": 9774,
            "answers_per_s": 162.8,
            "clients": 32,
            "floor_one_answer_ms": 5.2,
            "floor_answers_per_s_all_cores": 385.0,
        },
        "scale": {
            "sizes": [
                {**size, "chunks": 100_000, "search_p95_ms": 1.9, "recall_at_10_vs_exact": 1.0},
                {**size, "chunks": 1_000_000, "search_p95_ms": 6.0, "recall_at_10_vs_exact": 0.99, "memory_mb": 2786.0},
            ]
        },
    }
    for path, value in changes.items():
        section, *keys = path.split("__")
        place = results[section]
        for key in keys[:-1]:
            place = (
                place["sizes"][[s["chunks"] for s in place["sizes"]].index(int(key))] if key.isdigit() else place[key]
            )
        place[keys[-1]] = value
    return results


def test_targets_are_each_met_or_not_by_their_own_figure():
    from kb.evaluation.targets import targets_report

    report = targets_report(measured())
    assert report["met"] == report["of"] == 10 and all(
        r["floor"] for r in report["targets"] if "memory" not in r["target"]
    )
    slow = targets_report(measured(index__build_vs_encoder=0.94, scale__1000000__recall_at_10_vs_exact=0.94))
    assert [r["target"].split(" ")[0:2] for r in slow["targets"] if r["met"] is False] == [
        ["full", "build"],
        ["hybrid", "search"],
    ]
    assert slow["met"] == 8
    busy = targets_report(measured(load_busy__errors=1, load__answers_per_s=29.9, crisis__detector_p95_ms=5.1))
    assert [r["met"] for r in busy["targets"]][-3:] == [False, False, False]


def test_a_benchmark_skipped_or_failed_is_not_measured_never_met():
    from kb.evaluation.targets import targets_lines, targets_report

    results = measured()
    results["app"] = {"skipped": "Chromium not found at /usr/bin/chromium (make browser)"}
    results["scale"]["sizes"][1] = {"chunks": 1_000_000, "error": "MemoryError"}
    del results["load_busy"]
    report = targets_report(results)
    unmeasured = [r for r in report["targets"] if r["met"] is None]
    assert len(unmeasured) == 4 and report["met"] == 6
    assert "Chromium not found" in unmeasured[0]["measured"] and "MemoryError" in unmeasured[1]["measured"]
    lines = targets_lines(report)
    assert lines[0] == "6 of 10 targets met" and sum(line.startswith("not run") for line in lines) == 4


def test_kb_bench_targets_runs_every_benchmark_at_the_target_sizes_and_writes_the_table(run_kb, tmp_path, monkeypatch):
    import json

    import kb.cli

    results, asked = measured(), []
    monkeypatch.setattr(kb.cli, "bench_crisis", lambda *a: results["crisis"])
    monkeypatch.setattr(kb.cli, "bench_index", lambda *a: results["index"])
    monkeypatch.setattr(kb.cli, "load_embedder", lambda *a: None)
    monkeypatch.setattr(kb.cli, "_bundled_embed", lambda *a: None)
    monkeypatch.setattr(kb.cli, "bench_ask", lambda *a: results["ask"])
    monkeypatch.setattr(kb.cli, "bench_app", lambda *a: results["app"])

    def load(settings, clients, seconds, url, target):
        asked.append(("load", clients, seconds, target))
        return results["load_busy" if clients == 20 else "load"]

    def scale(settings, sizes, out):
        asked.append(("scale", sizes))
        return results["scale"]

    monkeypatch.setattr(kb.cli, "bench_load", load)
    monkeypatch.setattr(kb.cli, "bench_scale", scale)
    done = run_kb("bench", "targets", "--out", tmp_path, "--seconds", "30")
    assert done.code == 0, done.err
    assert asked == [("scale", [10_000, 100_000, 1_000_000]), ("load", 20, 30.0, "api"), ("load", 32, 30.0, "api")]
    assert "10 of 10 targets met" in done.out and "floor: exact search p95 12.0 ms" in done.out
    written = json.loads((tmp_path / "targets.json").read_text(encoding="utf-8"))
    assert written["targets"]["met"] == 10 and written["scale"] == results["scale"]
    asked.clear()
    assert run_kb("bench", "targets", "--out", tmp_path, "--chunks", "400").code == 0
    assert asked[0] == ("scale", [400])
