"""The `kb` command: JSON shapes, human output, settings precedence and one-line errors (exit 2)."""

from __future__ import annotations

import shutil

import pytest

from kb.index.store import current_build, index_lock

from conftest import DOC_IDS, SLEEP_MD, write_files

INDEX_KEYS = {"documents", "chunks", "added", "changed", "removed", "embedded", "failed", "seconds"}
HIT_KEYS = {"rank", "doc_id", "chunk_id", "title", "section", "page", "score", "text", "topics", "url"}
STATS_KEYS = {"documents", "chunks", "topics", "model", "built_at", "changed_since_build"}


def assert_one_line_error(run, *words):
    assert run.code == 1, run  # library error; usage errors exit 2
    assert run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.err
    for word in words:
        assert word in lines[0]


@pytest.fixture
def indexed(kb_env, run_kb):
    """The test corpus, indexed through the CLI."""
    run = run_kb("index", "--json")
    assert run.code == 0, run.err
    return kb_env


# kb index


def test_index_json_summary(kb_env, run_kb):
    run = run_kb("index", "--json")
    assert run.code == 0
    assert all(line.startswith('{"progress": ') for line in run.err.splitlines()), run.err  # progress only
    data = run.json()
    assert set(data) >= INDEX_KEYS
    assert data["documents"] == 3 and data["added"] == 3 and data["changed"] == 0 and data["removed"] == 0
    assert data["embedded"] == data["chunks"] > 0 and data["failed"] == []
    assert isinstance(data["seconds"], float)
    assert len(run.out.splitlines()) == 1


def test_index_again_embeds_nothing_and_full_embeds_all(indexed, run_kb):
    again = run_kb("index", "--json").json()
    assert (again["embedded"], again["added"], again["changed"], again["removed"]) == (0, 0, 0, 0)
    full = run_kb("index", "--full", "--json").json()
    assert full["embedded"] == full["chunks"] == again["chunks"]


def test_index_counts_changes(indexed, run_kb):
    (indexed.corpus / "articles/sleep.md").write_text(SLEEP_MD.replace("title: Sleep and dreams", "title: Rest"))
    (indexed.corpus / "articles/anger.md").unlink()
    (indexed.corpus / "articles/grief.md").write_text("# Grief\n\nGrief comes in waves.\n")
    data = run_kb("index", "--json").json()
    assert (data["added"], data["changed"], data["removed"], data["documents"]) == (1, 1, 1, 3)


def test_index_human_output_reports_skips_and_failures_one_per_line(kb_env, run_kb, bad_files):
    write_files(kb_env.corpus, bad_files)
    (kb_env.corpus / "notes.docx").write_bytes(b"PK")
    run = run_kb("index")
    assert run.code == 0
    assert run.out.startswith("Indexed 3 documents")
    assert "skipped notes.docx: unsupported file type '.docx'" in run.out
    failed = [line for line in run.err.splitlines() if line.startswith("failed ")]
    assert len(failed) == len(bad_files)
    for rel, (_, words) in bad_files.items():
        (line,) = [f for f in failed if f.startswith(f"failed {rel}: ")]
        assert words in line


def test_index_json_lists_failures_with_path_and_reason(kb_env, run_kb, bad_files):
    write_files(kb_env.corpus, bad_files)
    data = run_kb("index", "--json").json()
    assert data["documents"] == 3
    assert sorted(f["path"] for f in data["failed"]) == sorted(bad_files)
    assert all(set(f) == {"path", "reason"} and f["reason"] for f in data["failed"])


def test_strict_exits_non_zero_when_a_file_failed(kb_env, run_kb):
    (kb_env.corpus / "empty.md").write_text("")
    run = run_kb("index", "--strict", "--json")
    assert run.code != 0
    assert run.json()["failed"] == [{"path": "empty.md", "reason": "empty file"}]
    assert current_build(kb_env.index) is not None  # the good files were still indexed
    (kb_env.corpus / "empty.md").unlink()
    assert run_kb("index", "--strict").code == 0


def test_previous_version_kept_is_said(indexed, run_kb):
    (indexed.corpus / "articles/sleep.md").write_bytes(b"\xff\xfe not utf-8")
    run = run_kb("index")
    assert (
        "failed articles/sleep.md: not UTF-8 text (byte 0); save the file as UTF-8 (previous version kept)" in run.err
    )
    assert run_kb("index", "--json").json()["kept"] == ["articles/sleep.md"]


def test_second_index_stops_while_another_holds_the_lock(kb_env, run_kb):
    with index_lock(kb_env.index):
        run = run_kb("index")
    assert_one_line_error(run, "another 'kb index'", str(kb_env.index))
    assert current_build(kb_env.index) is None
    assert run_kb("index").code == 0


# kb search


def test_search_json_shape(indexed, run_kb):
    run = run_kb("search", "sleep dreams nightmare", "-k", "3", "--json")
    assert run.code == 0
    data = run.json()
    assert set(data) == {"query", "results"} and data["query"] == "sleep dreams nightmare"
    assert 1 <= len(data["results"]) <= 3
    for n, hit in enumerate(data["results"], 1):
        assert set(hit) == HIT_KEYS
        assert hit["rank"] == n and hit["doc_id"] in DOC_IDS and hit["url"].startswith("/library?doc=")
        assert isinstance(hit["score"], float) and isinstance(hit["topics"], list)
    assert data["results"][0]["doc_id"] == "sleep-and-dreams"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_search_modes(indexed, run_kb, mode):
    data = run_kb("search", "sleep dreams nightmare", "--mode", mode, "-k", "2", "--json").json()
    assert data["results"][0]["doc_id"] == "sleep-and-dreams"
    assert len(data["results"]) <= 2


def test_search_filters_by_topic_and_audience(indexed, run_kb):
    by_topic = run_kb("search", "feelings", "-k", "10", "--topic", "anger", "--topic", "sleep", "--json").json()
    assert {h["doc_id"] for h in by_topic["results"]} == {"anger-for-clinicians", "sleep-and-dreams"}
    clinician = run_kb("search", "feelings", "-k", "10", "--audience", "clinician", "--json").json()
    assert {h["doc_id"] for h in clinician["results"]} == {"anger-for-clinicians"}


def test_search_result_for_a_pdf_has_its_page(kb_env, run_kb, stress_pdf):
    (kb_env.corpus / "handouts").mkdir()
    (kb_env.corpus / "handouts/stress.pdf").write_bytes(stress_pdf)
    run_kb("index")
    data = run_kb("search", "recovery breaks walk bedtime friends", "--mode", "bm25", "-k", "1", "--json").json()
    hit = data["results"][0]
    assert (hit["doc_id"], hit["page"], hit["section"], hit["title"]) == (
        "handouts/stress",
        2,
        "Rest and recovery",
        "Stress guide",
    )


def test_search_batch_prints_one_object_per_line_in_order(indexed, run_kb, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("nightmare\n\nangry client\ntransference at work\n")
    run = run_kb("search", "--batch", queries, "-k", "2", "--mode", "bm25")
    assert run.code == 0
    rows = run.json_lines()
    assert [r["query"] for r in rows] == ["nightmare", "angry client", "transference at work"]
    assert [r["results"][0]["doc_id"] for r in rows] == [
        "sleep-and-dreams",
        "anger-for-clinicians",
        "transference-basics",
    ]
    assert all(set(r) == {"query", "results"} and len(r["results"]) <= 2 for r in rows)


def test_search_human_output(indexed, run_kb):
    run = run_kb("search", "nightmare", "-k", "1", "--mode", "bm25")
    lines = run.out.splitlines()
    assert lines[0].startswith("1. Sleep and dreams > Dreams  [")
    assert "recurring nightmare" in lines[1]


def test_search_needs_a_query_or_batch(indexed, run_kb):
    run = run_kb("search")
    assert run.code == 2 and "give a QUERY or --batch FILE" in run.err


# kb stats


def test_stats_json(indexed, run_kb):
    data = run_kb("stats", "--json").json()
    assert set(data) >= STATS_KEYS
    assert data["documents"] == 3 and data["chunks"] > 3
    assert data["topics"] == {"anger": 1, "sleep": 1, "transference-and-relationship": 1}
    assert data["model"]["name"] == "hashing-64" and data["model"]["dimension"] == 64
    assert data["built_at"].endswith("Z")
    assert data["changed_since_build"] == {"added": [], "changed": [], "removed": []}


def test_stats_shows_what_changed_since_the_build(indexed, run_kb):
    (indexed.corpus / "articles/sleep.md").write_text(SLEEP_MD + "\nMore.\n")
    assert run_kb("stats", "--json").json()["changed_since_build"]["changed"] == ["articles/sleep.md"]
    run = run_kb("stats")
    assert "1 files changed since the build: run 'kb index'" in run.out
    assert "changed: articles/sleep.md" in run.out


# kb validate


def test_validate_a_good_corpus_without_building(kb_env, run_kb):
    run = run_kb("validate")
    assert run.code == 0, run.err
    assert run.out.strip() == "checked 4 files: all valid"
    assert not kb_env.index.exists()


def test_validate_reports_each_problem_and_exits_non_zero(kb_env, run_kb, bad_files):
    write_files(kb_env.corpus, bad_files)
    (kb_env.corpus / "articles/sleep.md").write_text(SLEEP_MD.replace("topics: [sleep]", "topics: [insomnia]"))
    run = run_kb("validate")
    assert run.code == 1
    problems = run.err.splitlines()
    for rel, (_, words) in bad_files.items():
        assert any(p.startswith(f"{rel}: ") and words in p for p in problems), rel
    assert "articles/sleep.md: field 'topics': 'insomnia' is not in the topic vocabulary" in problems
    assert not kb_env.index.exists()
    data = run_kb("validate", "--json").json()
    assert set(data) == {"files", "problems"} and len(data["problems"]) == len(problems)


# Settings precedence through the command line


def test_flags_beat_environment_beat_config_file(corpus, tmp_path, monkeypatch, run_kb):
    monkeypatch.chdir(tmp_path)
    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(corpus / "articles/sleep.md", small / "sleep.md")
    (tmp_path / "kb.toml").write_text(f'[kb]\ncorpus = "{small}"\nindex = "idx-file"\nmodel = "hashing-16"\n')

    from_file = run_kb("index", "--json")
    assert from_file.json()["documents"] == 1
    assert run_kb("stats", "--json").json()["model"]["name"] == "hashing-16"
    assert (tmp_path / "idx-file").is_dir()

    env = {"KB_CORPUS": str(corpus), "KB_INDEX": "idx-env", "KB_MODEL": "hashing-32"}
    assert run_kb("index", "--json", env=env).json()["documents"] == 3
    assert run_kb("stats", "--json", env=env).json()["model"]["name"] == "hashing-32"

    flags = ("--corpus", small, "--index", "idx-flag", "--model", "hashing-64")
    assert run_kb("index", "--json", *flags, env=env).json()["documents"] == 1
    stats = run_kb("stats", "--json", *flags, env=env).json()
    assert (stats["model"]["name"], stats["index"]) == ("hashing-64", "idx-flag")


def test_config_flag_picks_the_file(corpus, tmp_path, monkeypatch, run_kb):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kb.toml").write_text('[kb]\ncorpus = "nowhere"\n')
    (tmp_path / "other.toml").write_text(f'[kb]\ncorpus = "{corpus}"\nmodel = "hashing-64"\n')
    assert run_kb("index", "--json", "--config", "other.toml").json()["documents"] == 3


# Errors: one line, exit 2


def test_search_without_an_index(kb_env, run_kb):
    assert_one_line_error(run_kb("search", "sleep"), "no index in", "run 'kb index'")


def test_stats_without_an_index(kb_env, run_kb):
    assert_one_line_error(run_kb("stats"), "no index in")


def test_search_with_another_model_than_the_index(indexed, run_kb):
    assert_one_line_error(run_kb("search", "sleep", "--model", "hashing-32"), "hashing-64", "kb index --full")


def test_missing_corpus_folder(kb_env, run_kb, tmp_path):
    assert_one_line_error(run_kb("index", "--corpus", tmp_path / "nope"), "does not exist")


def test_bad_config_value(kb_env, run_kb):
    (kb_env.corpus.parent / "kb.toml").write_text('[kb]\nmax_tokens = "many"\n')
    assert_one_line_error(run_kb("index"), "kb.toml", "max_tokens")


@pytest.mark.parametrize(
    "args, words",
    [
        (("search", "   "), "query is empty"),
        (("search", "sleep", "-k", "0"), "k must be at least 1"),
    ],
)
def test_bad_search_input(indexed, run_kb, args, words):
    assert_one_line_error(run_kb(*args), words)


def test_the_installed_console_script_reports_errors_the_same_way(kb_env, run_kb_process):
    assert_one_line_error(run_kb_process("search", "sleep"), "no index in")


@pytest.mark.parametrize(
    "command",
    [
        ("index",),
        ("search",),
        ("stats",),
        ("validate",),
        ("ask",),
        ("therapists",),
        ("eval",),
        ("bench",),
        ("report",),
        ("model", "export"),
        ("crisis", "train"),
    ],
)
def test_help_shows_its_example_on_its_own_line_however_narrow_the_terminal(run_kb, command):
    run = run_kb(*command, "--help", env={"COLUMNS": "40"})
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() in ("Example:", "Examples:"))
    block = lines[at + 1 : lines.index("", at)]
    assert block and all(line.startswith("    kb ") for line in block), block  # one example a line, none rewrapped


def test_python_dash_m_kb_is_the_same_command(kb_env):
    import subprocess
    import sys

    import kb

    version = subprocess.run([sys.executable, "-m", "kb", "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.strip() == f"kb, version {kb.__version__}"
    usage = subprocess.run([sys.executable, "-m", "kb", "no-such-command"], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "Usage: kb" in usage.stderr  # a usage error, not a library error (1)
