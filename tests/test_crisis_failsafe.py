"""Crisis help fails safe: whatever else is broken, a crisis message gets crisis resources first, then the error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb.index.build import build_index
from kb.index.store import current_build

from conftest import REPO

URGENT = "I want to kill myself tonight"


def assert_crisis_first_then_error(run, *, tier: str = "urgent") -> None:
    assert run.code == 1, run
    assert "9-8-8" in run.out and "911" in run.out, run.out
    if tier == "urgent":
        assert run.out.index("911") < run.out.index("9-8-8")  # emergency services first when it is urgent
    assert run.err.startswith("error: ") and len(run.err.strip().splitlines()) == 1, run.err
    assert "kill myself" not in run.out + run.err  # never echoed back


def test_no_index_still_shows_crisis_help_first(kb_env, run_kb, tmp_path):
    assert_crisis_first_then_error(run_kb("ask", URGENT, "--index", tmp_path / "nonexistent"))


def test_no_index_in_json_fills_crisis_and_error(kb_env, run_kb, tmp_path):
    run = run_kb("ask", URGENT, "--index", tmp_path / "nonexistent", "--json")
    assert run.code == 1
    data = json.loads(run.out)
    assert data["crisis"]["detected"] and data["crisis"]["tier"] == "urgent"
    assert data["crisis"]["resources"] and data["error"]


def test_a_model_that_will_not_load_still_shows_crisis_help(kb_env, run_kb, embedder, settings):
    build_index(settings, embedder)
    assert_crisis_first_then_error(run_kb("ask", URGENT, env={"KB_MODEL": "/nonexistent/model"}))


def test_a_damaged_documents_file_still_shows_crisis_help(kb_env, run_kb, embedder, settings):
    build_index(settings, embedder)
    build = current_build(settings.index)
    assert build is not None
    (build / "documents.jsonl").write_text('{"id": "half', encoding="utf-8")
    (build / "chunks.jsonl").write_text("", encoding="utf-8")
    run = run_kb("ask", URGENT)
    assert "9-8-8" in run.out and "911" in run.out, run


def test_a_broken_directory_still_shows_crisis_help(kb_env, run_kb, embedder, settings):
    build_index(settings, embedder)
    (settings.corpus / "therapists.yaml").write_text("therapists: [unclosed\n", encoding="utf-8")
    run = run_kb("ask", URGENT)
    assert "9-8-8" in run.out and "911" in run.out, run


def test_a_broken_config_file_still_shows_crisis_help(kb_env, run_kb, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[kb]\nmax_tokens = "many"\n', encoding="utf-8")
    assert_crisis_first_then_error(run_kb("ask", URGENT, "--config", bad))


def test_a_question_that_is_not_a_crisis_gets_only_the_error(kb_env, run_kb, tmp_path):
    run = run_kb("ask", "what is transference?", "--index", tmp_path / "nonexistent")
    assert run.code == 1 and run.out == "" and run.err.startswith("error: ")


def test_a_concern_is_shown_calmly(kb_env, run_kb, tmp_path):
    run = run_kb("ask", "I have thoughts of suicide sometimes", "--index", tmp_path / "nonexistent")
    assert run.code == 1 and "PLEASE GET HELP NOW" not in run.out
    assert run.out.index("9-8-8") < run.out.index("911")  # the crisis line first when it is not urgent


# The app, with AppTest: crisis lines and the crisis panel in every broken state.

APP = str(REPO / "app.py")


def open_app(monkeypatch, **env: str) -> AppTest:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return AppTest.from_file(APP, default_timeout=120).run()


def ask(at: AppTest, question: str) -> AppTest:
    at.text_input(key="question").input(question)
    return next(b for b in at.button if b.label == "Ask").click().run()


def page_text(at: AppTest) -> str:
    parts = [str(getattr(el, "value", "")) for el in at.main]
    parts += [str(getattr(el, "value", "")) for el in at.sidebar]
    parts += [el.value for el in at.markdown] + [el.value for el in at.error] + [el.value for el in at.info]
    return "\n".join(parts).replace("\\", "")  # Markdown escapes ("9\\-8\\-8")


@pytest.fixture
def broken_model(kb_env, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    return {
        "KB_MODEL": "/nonexistent/model",
        "KB_INDEX": str(tmp_path / "no-index"),
        "KB_FEEDBACK_DB": str(tmp_path / "feedback.sqlite"),
    }


def test_the_app_without_a_model_still_shows_crisis_lines_and_the_panel(broken_model, monkeypatch):
    at = open_app(monkeypatch, **broken_model)
    assert not at.exception
    assert "9-8-8" in page_text(at)  # the sidebar's standing crisis lines
    at = ask(at, URGENT)
    assert not at.exception
    text = page_text(at)
    assert "Please get help now" in [h.value for h in at.header], [h.value for h in at.header]
    assert "911" in text and "could not answer" in text


def test_the_app_with_a_damaged_build_still_shows_the_crisis_panel(kb_env, embedder, settings, monkeypatch, tmp_path):
    build_index(settings, embedder)
    build = current_build(settings.index)
    assert build is not None
    (build / "documents.jsonl").write_text('{"id": "half', encoding="utf-8")
    monkeypatch.chdir(REPO)
    at = open_app(monkeypatch, KB_FEEDBACK_DB=str(tmp_path / "feedback.sqlite"))
    at = ask(at, URGENT)
    assert not at.exception
    assert any(h.value in ("Please get help now", "Support is here any time") for h in at.header)
    assert "9-8-8" in page_text(at)


def test_fault_cases_are_listed(tmp_path: Path):
    """RELIABILITY.md names the crisis fault cases and this file as their test."""
    text = (REPO / "RELIABILITY.md").read_text(encoding="utf-8") if (REPO / "RELIABILITY.md").exists() else ""
    if not text:
        pytest.skip("RELIABILITY.md not written yet")
    assert "test_crisis_failsafe.py" in text
