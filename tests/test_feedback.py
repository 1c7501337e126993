"""Feedback and demand counters: only dates, kinds, chunk ids, thumbs and weekly counts reach the SQLite file;
`kb report` turns them into Markdown, JSON and a chart; a canary question sent with feedback is nowhere on disk."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.config import Settings
from kb.errors import InputError
from kb.index.build import build_index
from kb.index.store import current_build, read_chunks
from kb.knowledge_base import KnowledgeBase
from kb.records import Answer, Crisis
from kb.web import server
from kb.web.feedback import FeedbackStore, answer_kind, iso_week
from kb.web.report import build_report, demand_figure, report_markdown

from conftest import files_containing, privacy_roots

CHUNK = "0123456789abcdef"


def an_answer(**changes) -> Answer:
    fields = dict(
        query="q",
        text="t",
        abstained=False,
        citations=[],
        passages=[],
        topics=["sleep"],
        therapists=[],
        crisis=Crisis(False),
        disclaimer="d",
    )
    return Answer(**{**fields, **changes})


def test_a_thumb_keeps_the_day_the_kind_the_chunk_ids_and_nothing_else(tmp_path):
    store = FeedbackStore(tmp_path / "fb" / "feedback.sqlite")
    store.record_feedback("answered", True, [CHUNK], day=dt.date(2026, 12, 1))
    assert [(r.day, r.kind, r.helpful, r.chunk_ids) for r in store.feedback()] == [
        ("2026-12-01", "answered", True, [CHUNK])
    ]
    with sqlite3.connect(store.path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(feedback)")}
    assert columns == {"day", "kind", "helpful", "chunk_ids"}


@pytest.mark.parametrize(
    "kind, helpful, ids",
    [
        ("answered", True, ["what is transference"]),
        ("great answer", True, []),
        ("answered", "yes", []),
        ("answered", True, [CHUNK] * 21),
    ],
)
def test_anything_but_a_known_kind_a_boolean_and_chunk_ids_is_refused(tmp_path, kind, helpful, ids):
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    with pytest.raises(InputError, match="feedback"):
        store.record_feedback(kind, helpful, ids)
    assert store.feedback() == []


def test_answer_kinds():
    assert answer_kind(an_answer()) == "answered"
    assert answer_kind(an_answer(abstained=True, text=None)) == "abstained"
    assert answer_kind(an_answer(crisis=Crisis(True, kind="suicide"))) == "crisis"


def test_demand_counts_per_week_only_vocabulary_topics_abstentions_and_crisis_tiers(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    monday, sunday, next_week = dt.date(2026, 11, 30), dt.date(2026, 12, 6), dt.date(2026, 12, 7)
    store.count_answer(an_answer(topics=["sleep", "not-in-vocabulary"]), {"sleep"}, monday)
    store.count_answer(an_answer(topics=[], abstained=True), {"sleep"}, sunday)
    crisis = Crisis(True, kind="suicide")
    crisis.tier = "urgent"  # the crisis record's tier, as the detector sets it
    store.count_answer(an_answer(topics=[], crisis=crisis), {"sleep"}, next_week)
    store.count("directory", "browse", next_week)
    counts = {(c.week, c.counter, c.key): c.n for c in store.demand()}
    assert counts == {
        ("2026-W49", "topic", "sleep"): 1,
        ("2026-W49", "abstention", "all"): 1,
        ("2026-W50", "crisis", "urgent"): 1,
        ("2026-W50", "directory", "browse"): 1,
    }
    assert iso_week(monday) == iso_week(sunday) != iso_week(next_week)
    with pytest.raises(InputError):
        store.count("topic", "Why do I feel this way?")


def test_the_report_ranks_disappointing_articles_first_and_draws_the_chart(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store.record_feedback("answered", True, ["aaaaaaaaaaaaaaaa"])
    store.record_feedback("answered", False, ["bbbbbbbbbbbbbbbb"])
    store.record_feedback("answered", False, ["bbbbbbbbbbbbbbbb", "cccccccccccccccc"])
    store.count("topic", "sleep")
    report = build_report(
        store.feedback(),
        store.demand(),
        {"aaaaaaaaaaaaaaaa": "good", "bbbbbbbbbbbbbbbb": "poor"},
        {"good": "A good article", "poor": "A poor article"},
    )
    assert [(a.doc_id, a.helpful, a.unhelpful) for a in report.articles] == [("poor", 0, 2), ("good", 1, 0)]
    assert report.by_kind == {"answered": {"helpful": 1, "unhelpful": 2}}
    assert report.notes and "no longer in the index" in report.notes[0]
    markdown = report_markdown(report)
    assert "| A poor article (`poor`) | 0 | 2 |" in markdown and "- sleep: 1" in markdown
    figure = demand_figure(report, {"sleep": "Sleep"})
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["Sleep"]


def test_kb_report_writes_markdown_json_and_a_chart(kb_env, embedder, run_kb, tmp_path, monkeypatch):
    build_index(kb_env, embedder)
    chunks, _ = read_chunks(current_build(kb_env.index))
    db = tmp_path / "private" / "feedback.sqlite"
    monkeypatch.setenv("KB_FEEDBACK_DB", str(db))
    FeedbackStore(db).record_feedback("answered", False, [chunks[0].id])
    FeedbackStore(db).count("topic", "sleep")
    result = run_kb("report", "--out", str(tmp_path / "reports"), "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["feedback"] == 1 and data["articles"][0]["doc_id"] == chunks[0].doc_id
    assert (tmp_path / "reports" / "demand.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "reports" / "feedback.json").read_text())["demand"]["topic"]


def test_a_canary_question_sent_with_feedback_is_found_nowhere_on_disk(settings: Settings, embedder, tmp_path):
    build_index(settings, embedder)
    site = settings.replace(feedback_db=tmp_path / "private" / "feedback.sqlite")
    kb = KnowledgeBase(site, embedder)
    client = TestClient(Starlette(routes=server.routes(site, lambda: kb)))
    since = time.time() - 1
    canary = f"canary{uuid.uuid4().hex}"
    question = f"what is transference in everyday life {canary}"
    answer = client.post("/api/v1/ask", json={"question": question}).json()
    assert canary in answer["query"]  # the answer itself carries it back, in memory only
    reply = client.post(
        "/api/v1/feedback",
        json={
            "kind": "answered",
            "helpful": True,
            "question": question,
            "chunk_ids": [c["chunk_id"] for c in answer["citations"]],
        },
    )
    assert reply.status_code == 201
    assert site.feedback_db.is_file() and FeedbackStore(site.feedback_db).demand()
    assert files_containing(canary, privacy_roots(tmp_path, Path(site.feedback_db).parent), since) == []
