"""`kb eval`: the golden-set report and the counsel-chat benchmark, on tiny data with the fake model
(plus one real run)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from kb.config import Settings
from kb.errors import InputError
from kb.evaluation.answers import counsel_chat_part
from kb.evaluation.counsel_chat import (
    counsel_chat_markdown,
    evaluate_counsel_chat,
    load_rows,
    question_text,
    write_corpus,
)
from kb.evaluation.golden import THRESHOLDS, GoldenItem, doc_rankings, evaluate_golden, golden_markdown, load_golden
from kb.index.build import build_index
from kb.knowledge_base import KnowledgeBase
from kb.records import Answer

REPO = Path(__file__).resolve().parents[1]
COUNSEL_CHAT = Path(__file__).parents[1] / "../shared/data/counsel-chat/train.jsonl"
RETRIEVAL_KEYS = {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "queries"}

THERAPISTS_YAML = """\
sample_data: true
directory_url: https://example.org/therapists
therapists:
  - {id: ana-sleep, name: Ana Sleep, pronouns: she/her, credentials: RP, bio: Ana helps with sleep and dreams.,
     modalities: [psychodynamic], specialties: [sleep], populations: [adults], languages: [English],
     formats: [online], location: {city: Toronto}, accepting_new_clients: true, fee: 120, sliding_scale: false,
     profile_url: https://example.org/therapists/ana-sleep}
  - {id: ben-anger, name: Ben Anger, pronouns: he/him, credentials: MSW, bio: Ben works with anger and conflict.,
     modalities: [psychodynamic], specialties: [anger], populations: [adults], languages: [English, French],
     formats: [in-person], location: {city: Ottawa}, accepting_new_clients: true, fee: 150, sliding_scale: true,
     profile_url: https://example.org/therapists/ben-anger}
  - {id: cy-patterns, name: Cy Patterns, pronouns: they/them, credentials: RP, bio: Cy explores old patterns.,
     modalities: [psychodynamic], specialties: [transference-and-relationship], populations: [adults],
     languages: [English], formats: [online], location: {city: Toronto}, accepting_new_clients: false, fee: 100,
     sliding_scale: false, profile_url: https://example.org/therapists/cy-patterns}
"""

GOLDEN = [
    {
        "id": "g1",
        "question": "transference means carrying feelings from an early relationship into a new one",
        "kind": "answerable",
        "expected_articles": ["transference-basics"],
        "expected_topics": ["transference-and-relationship"],
    },
    {
        "id": "g2",
        "question": "keep a regular bedtime and put screens away for better sleep",
        "kind": "answerable",
        "expected_articles": ["sleep-and-dreams"],
        "expected_topics": ["sleep"],
    },
    {
        "id": "g3",
        "question": "a client snaps at the therapist with anger in the session",
        "kind": "answerable",
        "expected_articles": ["anger-for-clinicians"],
        "expected_topics": ["anger"],
    },
    {
        "id": "n1",
        "question": "this commute is killing me and I lie awake; does a regular bedtime help sleep",
        "kind": "near-miss",
        "expected_articles": ["sleep-and-dreams"],
        "expected_topics": ["sleep"],
    },
    {"id": "o1", "question": "banana bread recipe with walnuts", "kind": "off-topic"},
    {"id": "o2", "question": "why are my car brakes squeaking", "kind": "off-topic"},
    {"id": "c1", "question": "I want to kill myself tonight", "kind": "crisis", "crisis_type": "explicit"},
]


@pytest.fixture
def golden_file(tmp_path: Path) -> Path:
    path = tmp_path / "questions.yaml"
    path.write_text(yaml.safe_dump({"questions": GOLDEN}), encoding="utf-8")
    return path


@pytest.fixture
def tiny_kb(settings: Settings, embedder) -> KnowledgeBase:
    """The three-article test corpus with a three-therapist directory, indexed with the fake model."""
    (settings.corpus / "therapists.yaml").write_text(THERAPISTS_YAML, encoding="utf-8")
    build_index(settings, embedder)
    return KnowledgeBase(settings, embedder)


@pytest.fixture
def report(tiny_kb: KnowledgeBase, golden_file: Path) -> dict:
    return evaluate_golden(tiny_kb, load_golden(golden_file))


# load_golden


def test_load_golden_reads_items_and_ignores_unknown_fields(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text(
        yaml.safe_dump({"questions": [GOLDEN[0] | {"notes": "a reviewer's remark"}, GOLDEN[6]]}), encoding="utf-8"
    )
    items = load_golden(path)
    assert items[0] == GoldenItem(
        id="g1",
        question=GOLDEN[0]["question"],
        kind="answerable",
        expected_articles=["transference-basics"],
        expected_topics=["transference-and-relationship"],
    )
    assert items[1].crisis_type == "explicit" and items[1].expected_articles == []
    assert [i.should_answer for i in items] == [True, False]


def test_load_golden_accepts_a_bare_list(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(GOLDEN), encoding="utf-8")
    assert [i.id for i in load_golden(path)] == [g["id"] for g in GOLDEN]


def test_near_miss_should_be_answered_and_off_topic_and_crisis_should_not():
    kinds = {k: GoldenItem("x", "q", k).should_answer for k in ("answerable", "near-miss", "off-topic", "crisis")}
    assert kinds == {"answerable": True, "near-miss": True, "off-topic": False, "crisis": False}


@pytest.mark.parametrize(
    "text, words",
    [
        (None, "golden set not found"),
        ("questions: [unclosed\n", "cannot read"),
        ("questions: 12\n", "expected a 'questions:' list"),
        (
            "questions:\n  - {id: q1, question: what is transference}\n",
            "question #1 needs an id, a question and a kind",
        ),
        ("questions:\n  - just text\n", "question #1"),
        (
            "questions:\n  - {id: q1, question: what is transference, kind: answerble}\n",
            "question 'q1': kind 'answerble' is not one of",
        ),
        (
            "questions:\n  - {id: q1, question: what is transference, kind: answerable, expected_articles: x}\n",
            "question 'q1': field 'expected_articles' must be a list of text$",
        ),
        (
            "questions:\n  - {id: q1, question: [what, is, it], kind: answerable}\n",
            "question 'q1': field 'question' must be text$",
        ),
    ],
)
def test_a_bad_golden_file_is_a_clear_input_error(tmp_path, text, words):
    path = tmp_path / "q.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=words):
        load_golden(path)


def test_the_shipped_golden_set_loads():
    items = load_golden(REPO / "tests" / "eval" / "questions.yaml")
    assert len(items) >= 160 and all(isinstance(i, GoldenItem) for i in items)


# evaluate_golden


def test_the_report_has_every_section(report):
    assert report["dataset"] == "golden" and report["items"] == len(GOLDEN)
    assert report["kinds"] == {"answerable": 3, "near-miss": 1, "off-topic": 2, "crisis": 1}
    assert set(report) >= {"retrieval", "abstention", "faithfulness", "matching", "crisis"}
    json.dumps(report)  # the report is written as JSON by `kb eval`


def test_retrieval_is_measured_per_retriever_on_answerable_and_near_miss_questions(report):
    assert set(report["retrieval"]) == {"bm25", "dense", "hybrid"}
    for mode, summary in report["retrieval"].items():
        assert set(summary) == RETRIEVAL_KEYS, mode
        assert summary["queries"] == 4
        assert all(0.0 <= summary[k] <= 1.0 for k in RETRIEVAL_KEYS - {"queries"}), mode
        assert summary["recall@1"] <= summary["recall@5"] <= summary["recall@10"]
    # The questions share many words with their article: every retriever finds it first.
    assert report["retrieval"]["hybrid"]["recall@1"] == 1.0 and report["retrieval"]["bm25"]["mrr@10"] == 1.0


def test_abstention_is_judged_on_off_topic_against_answerable_questions(report, tiny_kb):
    ab = report["abstention"]
    assert ab["threshold"] == tiny_kb.settings.abstain_below
    assert {"precision", "recall", "tp", "fp", "fn", "sweep"} <= set(ab)
    assert ab["tp"] + ab["fn"] == 2  # the two off-topic questions; the crisis question is not judged
    assert ab["recall"] == 1.0 and ab["precision"] == 1.0
    assert [row["threshold"] for row in ab["sweep"]] == THRESHOLDS
    at_threshold = next(row for row in ab["sweep"] if row["threshold"] == ab["threshold"])
    assert {k: at_threshold[k] for k in ("precision", "recall", "tp", "fp", "fn")} == {
        k: ab[k] for k in ("precision", "recall", "tp", "fp", "fn")
    }
    # A higher threshold abstains at least as often.
    assert [row["tp"] + row["fp"] for row in ab["sweep"]] == sorted(row["tp"] + row["fp"] for row in ab["sweep"])


def test_every_answer_is_faithful(report):
    fa = report["faithfulness"]
    assert fa["answers"] >= 4  # the answerable and near-miss questions were answered
    assert fa["faithful"] == fa["answers"] and fa["rate"] == 1.0 and fa["unfaithful_ids"] == []


def test_an_unfaithful_answer_is_counted_and_named(tiny_kb, golden_file, monkeypatch):
    real_ask = tiny_kb.ask

    def ask(question: str, *args, **kwargs) -> Answer:
        answer = real_ask(question, *args, **kwargs)
        if answer.text and question == GOLDEN[1]["question"]:
            answer.text = answer.text.replace("bedtime", "bathtime", 1)
        return answer

    monkeypatch.setattr(tiny_kb, "ask", ask)
    fa = evaluate_golden(tiny_kb, load_golden(golden_file))["faithfulness"]
    assert fa["unfaithful_ids"] == ["g2"]
    assert fa["faithful"] == fa["answers"] - 1 and fa["rate"] < 1.0


def test_therapist_matching_hit_at_3(report):
    assert report["matching"] == {"questions": 3, "hit@3": 1.0}


def test_crisis_detection_is_part_of_the_report(report):
    crisis = report["crisis"]
    assert {"recall", "explicit_recall", "near_miss_false_positive_rate", "missed", "false_alarms"} <= set(crisis)
    assert crisis["crisis_items"] == 1 and crisis["near_miss_items"] == 1
    assert crisis["recall"] == 1.0 and crisis["explicit_recall"] == 1.0
    assert crisis["near_miss_false_positive_rate"] == 0.0
    # The fake embedder leaves only the fail-safe path (no embedding), whose false alarms are allowed to be
    # twice the served path's; here it flags the bedtime item. Ids only, never text.
    assert set(crisis["false_alarms"]) <= {"g1", "g2", "g3"}


def test_the_markdown_report_has_the_table_and_every_section(report):
    text = golden_markdown(report)
    assert text.startswith("# Evaluation: golden set\n")
    for mode in ("bm25", "dense", "hybrid"):
        assert f"| {mode} | " in text
    for heading in ("## Retrieval", "## Abstention", "## Answers", "## Therapist matching", "## Crisis detection"):
        assert heading in text
    assert "citation faithfulness: " in text and "= 1.000" in text


def test_kb_eval_writes_markdown_and_json_reports(tiny_kb, golden_file, kb_env, run_kb, tmp_path):
    out = tmp_path / "reports"
    run = run_kb("eval", "--questions", golden_file, "--out", out, "--json")
    assert run.code == 0, run.err
    printed = run.json()
    assert printed["items"] == len(GOLDEN)
    assert json.loads((out / "eval-golden.json").read_text(encoding="utf-8")) == printed
    assert (out / "eval-golden.md").read_text(encoding="utf-8").startswith("# Evaluation: golden set")


def test_kb_eval_with_a_bad_golden_file_is_one_line(kb_env, run_kb, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("questions:\n  - {id: q1, question: hi}\n", encoding="utf-8")
    run = run_kb("eval", "--questions", bad, "--out", tmp_path / "reports")
    assert run.code == 1 and run.out == ""
    assert run.err.startswith("error: ") and "question #1 needs" in run.err and len(run.err.splitlines()) == 1


# counsel-chat on tiny synthetic data (our own rows in its format; the real records are read only from ../shared)

ROWS = [
    {
        "id": "syn-0001",
        "title": "I can't sleep at night",
        "topic": "sleep-improvement",
        "text": "Every night I lie awake worrying and cannot fall asleep until three in the morning.",
        "answers": [
            "Insomnia that keeps you awake worrying until three in the morning is common. Try getting up "
            "and doing something quiet when you cannot fall asleep, and keep the same wake time.",
            "Many people who lie awake at night are carrying worries from the day. A regular bedtime helps.",
        ],
    },
    {
        "id": "syn-0002",
        "title": "Always angry at my partner",
        "topic": "anger-management",
        "text": "I snap at my partner over small things and then feel terrible about my anger.",
        "answers": ["Anger often protects a softer feeling, such as hurt or fear of being left.", ""],
    },
    {
        "id": "syn-0003",
        "title": "My father died last spring",
        "topic": "grief",
        "text": "My father died last spring and I still cry every day. Is this grief normal?",
        "answers": ["Grief after a father dies can last far longer than a year, and crying every day is common."],
    },
    {"id": "syn-0004", "title": "No answers yet", "topic": "grief", "text": "Does anyone read these?", "answers": []},
]


@pytest.fixture
def rows_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n", encoding="utf-8")
    return path


def test_load_rows_reads_json_lines_and_skips_blank_ones(rows_file):
    assert [r["id"] for r in load_rows(rows_file)] == [r["id"] for r in ROWS]


def test_load_rows_says_where_the_data_was_expected(tmp_path):
    with pytest.raises(InputError, match=r"counsel-chat data not found at .*missing\.jsonl"):
        load_rows(tmp_path / "missing.jsonl")


def test_question_text_is_title_then_body():
    assert (
        question_text(ROWS[1]) == "Always angry at my partner\nI snap at my partner over small things and then "
        "feel terrible about my anger."
    )
    assert question_text({"title": None, "text": "  only a body "}) == "only a body"


def test_write_corpus_writes_one_file_per_answer(tmp_path):
    folder = tmp_path / "corpus"
    relevant = write_corpus(ROWS, folder)
    assert relevant == {
        "syn-0001": ["syn-0001/a0", "syn-0001/a1"],
        "syn-0002": ["syn-0002/a0"],
        "syn-0003": ["syn-0003/a0"],
    }  # empty answers and unanswered questions are left out
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.txt")) == [
        "syn-0001/a0.txt",
        "syn-0001/a1.txt",
        "syn-0002/a0.txt",
        "syn-0003/a0.txt",
    ]
    assert (folder / "syn-0002" / "a0.txt").read_text(encoding="utf-8") == ROWS[1]["answers"][0]


def test_write_corpus_rewrites_only_what_changed(tmp_path):
    folder = tmp_path / "corpus"
    write_corpus(ROWS, folder)
    old = 1_000_000_000
    for path in folder.rglob("*.txt"):
        os.utime(path, (old, old))
    changed = [dict(r) for r in ROWS]
    changed[2] = changed[2] | {"answers": ["Grief has no timetable."]}
    write_corpus(changed, folder)
    touched = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.txt") if p.stat().st_mtime != old)
    assert touched == ["syn-0003/a0.txt"]
    assert (folder / "syn-0003" / "a0.txt").read_text(encoding="utf-8") == "Grief has no timetable."


@pytest.fixture
def topic_map(tmp_path: Path) -> Path:
    path = tmp_path / "topics-map.yaml"
    path.write_text("sleep-improvement: [sleep]\nanger-management: [anger]\ngrief: []\n", encoding="utf-8")
    return path


def test_evaluate_counsel_chat_report(tiny_kb, rows_file, tmp_path, topic_map):
    report = evaluate_counsel_chat(tiny_kb, rows_file, tmp_path / "cache", topic_map, sweep=[0.0, 0.5, 1.0])
    assert report["dataset"] == "counsel-chat"
    assert (report["questions"], report["documents"]) == (3, 4)
    assert report["chunks"] >= 4
    assert report["fusion"] == {"method": "convex", "dense_weight": tiny_kb.settings.dense_weight}
    assert set(report["retrieval"]) == {"bm25", "dense", "hybrid"}
    for summary in report["retrieval"].values():
        assert set(summary) == RETRIEVAL_KEYS and summary["queries"] == 3
    assert [row["fusion"] for row in report["fusion_sweep"]] == [
        "convex w=0.00",
        "convex w=0.50",
        "convex w=1.00",
        "rrf k=60",
    ]
    # Two of the three mapped questions have a specialist in the tiny directory; grief maps to nothing.
    assert report["matching"]["questions"] == 2 and report["matching"]["hit@3"] == 1.0
    # The benchmark's own index lives in the cache, not in the knowledge base's index.
    assert (tmp_path / "cache" / "index").is_dir() and (tmp_path / "cache" / "corpus" / "syn-0001").is_dir()
    text = counsel_chat_markdown(report)
    assert text.startswith("# Evaluation: counsel-chat (external)") and "| hybrid | " in text
    assert "## Fusion sweep (hybrid, train part only: 2 questions)" in text and "Therapist matching" in text


def test_the_fusion_sweep_never_sees_a_held_out_question(tiny_kb, rows_file, tmp_path):
    """Fusion settings are chosen on the sweep, so it scores the train part's questions and no others."""
    assert [counsel_chat_part(r["id"]) for r in ROWS[:3]] == ["train", "train", "held-out"]
    report = evaluate_counsel_chat(tiny_kb, rows_file, tmp_path / "cache", sweep=[0.5, 1.0])
    assert report["retrieval"]["dense"]["queries"] == 3  # the main table still reports every question
    assert [row["queries"] for row in report["fusion_sweep"]] == [2, 2, 2]
    train = report["retrieval_by_part"]["train"]
    dense_only = report["fusion_sweep"][1]
    assert dense_only["fusion"] == "convex w=1.00"
    assert dense_only["ndcg@10"] == pytest.approx(train["dense"]["ndcg@10"])


def test_the_fusion_sweep_is_scored_like_the_main_table(tiny_kb, rows_file, tmp_path):
    """Counsel-chat answers to one question are equally relevant: the sweep must not grade them by list order."""
    report = evaluate_counsel_chat(tiny_kb, rows_file, tmp_path / "cache", sweep=[1.0])
    bench = KnowledgeBase(
        tiny_kb.settings.replace(corpus=tmp_path / "cache" / "corpus", index=tmp_path / "cache" / "index"),
        tiny_kb.embedder,
    )
    first = doc_rankings(bench, [question_text(ROWS[0])], ("dense",))["dense"][0]
    assert first.index("syn-0001/a1") < first.index("syn-0001/a0")  # so graded and ungraded nDCG would differ
    dense_only = report["fusion_sweep"][0]
    assert dense_only["fusion"] == "convex w=1.00"  # convex fusion with all weight on cosine ranks like dense
    train = report["retrieval_by_part"]["train"]["dense"]  # syn-0001, the graded-vs-ungraded case, is train
    assert dense_only["ndcg@10"] == pytest.approx(train["ndcg@10"])
    assert dense_only["recall@10"] == pytest.approx(train["recall@10"])


def test_evaluate_counsel_chat_without_data_is_an_input_error(tiny_kb, tmp_path):
    with pytest.raises(InputError, match="counsel-chat data not found"):
        evaluate_counsel_chat(tiny_kb, tmp_path / "nope.jsonl", tmp_path / "cache")


# The real benchmark


@pytest.mark.slow
@pytest.mark.benchmark
def test_hybrid_beats_dense_and_bm25_on_counsel_chat(request, tmp_path_factory):
    """About 30 minutes on a busy 2-core machine (it embeds ~2,500 chunks), so it runs only with -m benchmark."""
    if "benchmark" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the counsel-chat benchmark is long; run it with: pytest -m benchmark")
    if not COUNSEL_CHAT.is_file():
        pytest.skip(f"counsel-chat data not found at {COUNSEL_CHAT.resolve()}; put train.jsonl there to run this")
    kb = KnowledgeBase(Settings(corpus=REPO / "corpus"), request.getfixturevalue("real_model"))
    report = evaluate_counsel_chat(kb, COUNSEL_CHAT, tmp_path_factory.mktemp("counsel-chat"))
    retrieval = report["retrieval"]
    assert report["questions"] > 600 and report["documents"] > 1500
    for metric in ("ndcg@10", "recall@10"):
        assert retrieval["hybrid"][metric] > retrieval["dense"][metric], (metric, retrieval)
        assert retrieval["hybrid"][metric] > retrieval["bm25"][metric], (metric, retrieval)
