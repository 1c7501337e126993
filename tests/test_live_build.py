"""What maintainers and the app see of the live build: progress while `kb index --json` embeds, and a damaged
live build counted as stale by the app, so its first page rebuilds it (from the embedding cache)."""

from __future__ import annotations

import json

from kb.index.build import build_index
from kb.index.store import current_build
from kb.web.views import stale_reason


def test_kb_index_json_prints_progress_lines_on_stderr_and_one_object_on_stdout(kb_env, run_kb):
    run = run_kb("index", "--json")
    assert run.code == 0, run.err
    report = json.loads(run.out)  # stdout is exactly one JSON object
    assert report["documents"] == 3
    lines = [json.loads(line)["progress"] for line in run.err.splitlines() if line.startswith('{"progress"')]
    assert lines, run.err
    assert lines[0]["done"] == 0 and lines[-1]["done"] == lines[-1]["total"] == report["embedded"]
    assert all(line["stage"] == "embedding" for line in lines)


def test_nothing_to_embed_prints_no_progress(kb_env, run_kb):
    assert run_kb("index", "--json").code == 0
    again = run_kb("index", "--json")
    assert again.code == 0 and json.loads(again.out)["embedded"] == 0
    assert '{"progress"' not in again.err


def test_a_damaged_live_build_is_stale_to_the_app_until_rebuilt(settings, embedder):
    assert stale_reason(settings) == "there is no search index yet"
    build_index(settings, embedder)
    build_index(settings, embedder)  # the previous build holds every vector too, as after any update
    assert stale_reason(settings) == ""
    chunks = current_build(settings.index) / "chunks.jsonl"
    chunks.write_bytes(chunks.read_bytes()[:100])
    reason = stale_reason(settings)
    assert reason.startswith("the live build is damaged") and "chunks.jsonl" in reason
    report = build_index(settings, embedder)
    assert report.embedded == 0  # repaired from the embedding cache
    assert stale_reason(settings) == ""


def test_the_about_page_shows_maintainers_the_directorys_bad_rows(settings, embedder, tmp_path, monkeypatch):
    import yaml
    from streamlit.testing.v1 import AppTest

    from kb.web import views

    from conftest import REPO, THERAPIST

    row = THERAPIST
    bad = json.loads(json.dumps(row)) | {"id": "bad-fee", "fee": "free"}  # a copy: no YAML aliases
    (settings.corpus / "therapists.yaml").write_text(
        yaml.safe_dump({"sample_data": True, "therapists": [row, bad]}), encoding="utf-8"
    )
    build_index(settings, embedder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KB_CORPUS", str(settings.corpus))
    monkeypatch.setenv("KB_INDEX", str(settings.index))
    monkeypatch.setenv("KB_MODEL", settings.model)
    monkeypatch.setenv("KB_FEEDBACK_DB", str(tmp_path / "feedback.sqlite"))
    monkeypatch.setattr(views, "load_embedder", lambda s: embedder)
    at = AppTest.from_file(str(REPO / "pages" / "about.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    warning = next(w.value for w in at.warning if "therapist directory" in w.value)
    line = next(str(m.value) for m in at.markdown if "therapists\\.yaml" in str(m.value))
    assert warning.startswith("The therapist directory has 1 problem(s)"), line
    assert "bad\\-fee" in line and "fee" in line and "left out" in line and "sam" not in line
