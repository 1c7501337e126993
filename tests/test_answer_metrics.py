"""`kb eval` reads answers as a visitor would: orphan list items, fragments, stitched passages, faithfulness."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kb.answering.readable import leans_back, themes_unraised
from kb.evaluation.answers import (
    SAMPLE,
    answer_metrics,
    check_answer,
    counsel_chat_part,
    sample,
    sample_markdown,
)
from kb.evaluation.counsel_chat import counsel_chat_answers
from kb.index.build import build_index
from kb.knowledge_base import KnowledgeBase
from kb.records import Answer, Chunk, Citation, Crisis, Hit

LIST = (
    "Grief can also become stuck. It may be time to talk to someone about your grief if:\n"
    "- You are using alcohol or other substances to numb the pain.\n"
    "- You cannot sleep, eat or work months after the loss."
)
PROSE = (
    "No. Many people feel unsure about therapy at first, and that is common. "
    'He said, "I never cry. A first session is a chance to ask questions. Let them talk about it.'
)


def hit(text: str, cid: str = "c1", rank: int = 1) -> Hit:
    return Hit(rank, Chunk(cid, "doc", 0, text, "Section", 0, len(text)), 1.0, "Title", [], "public", "/x", 0.6)


def answer(text: str | None, hits: list[Hit], from_directory: bool = False) -> Answer:
    citations = [Citation(n, "doc", "Title", "Section", None, "/x", "", h.chunk.id) for n, h in enumerate(hits, 1)]
    return Answer(
        "q",
        text,
        text is None,
        citations if text and not from_directory else [],
        hits,
        [],
        [],
        Crisis(False),
        "disclaimer",
        from_directory=from_directory,
    )


def test_a_list_item_quoted_without_its_lead_in_is_an_orphan():
    h = hit(LIST)
    orphan = check_answer(
        "why can't I sleep",
        answer(
            "You are using alcohol or other substances to numb the pain. [1] "
            "You cannot sleep, eat or work months after the loss. [1]",
            [h],
        ),
    )
    assert len(orphan.orphans) == 2 and orphan.faithful
    whole = check_answer(
        "why can't I sleep",
        answer(
            "It may be time to talk to someone about your grief if: [1]\n"
            "- You are using alcohol or other substances to numb the pain. [1]",
            [h],
        ),
    )
    assert whole.orphans == [] and whole.fragments == [] and whole.faithful


def test_a_list_that_starts_its_passage_has_no_lead_in_to_quote():
    h = hit("- You cannot sleep, eat or work months after the loss.\n\nGrief is common after a loss.")
    check = check_answer("q", answer("- You cannot sleep, eat or work months after the loss. [1]", [h]))
    assert check.orphans == ["You cannot sleep, eat or work months after the loss."]


def test_fragments_are_named_by_kind():
    h = hit(PROSE)
    check = check_answer(
        "should I go to therapy",
        answer(
            "No. [1] Many people feel unsure about therapy at first, and that is common. [1] "
            'He said, "I never cry. [1] '
            "Let them talk about it. [1]",
            [h],
        ),
    )
    kinds = sorted(f.split(":")[0] for f in check.fragments)
    assert kinds == ["short sentence alone", "to a helper", "unbalanced quotes", "yes/no"]
    alone = check_answer("should I go to therapy", answer("No. [1]", [h]))
    assert sorted(f.split(":")[0] for f in alone.fragments) == ["short sentence alone", "yes/no"]


def test_a_quote_opening_on_a_reply_or_mid_thought_is_a_fragment():
    h = hit("Yes, many people feel unsure about therapy at first. A first session is a chance to ask questions.")
    reply = "Yes, many people feel unsure about therapy at first. [1] A first session is a chance to ask questions. [1]"
    kinds = [f.split(":")[0] for f in check_answer("how do I help my friend", answer(reply, [h])).fragments]
    assert kinds == ["a reply to another question"]
    heading = answer(reply, [h])
    heading.from_heading = True  # the section's question heading asks what the visitor asks: "Yes" answers it
    assert check_answer("how do I help my friend", heading).fragments == []
    text = "Some feelings arrive without warning. This means the feeling has a history in your life."
    back = check_answer(
        "why do I feel this way", answer("This means the feeling has a history in your life. [1]", [hit(text)])
    )
    assert [f.split(":")[0] for f in back.fragments] == ["opens mid-thought"]
    assert leans_back("This means the feeling has a history.") and leans_back("It passes with time.")
    assert not leans_back("It is normal to feel unsure.") and not leans_back("Here are some examples.")
    assert leans_back("Anger can also be hidden by defences.") and leans_back("Others find that hard.")
    assert leans_back("Other people cannot cry at all.") and leans_back("Many people also worry about cost.")
    assert not leans_back("Feeling anxious before a first session is common.")


def test_advice_to_a_helper_is_fine_when_the_visitor_asks_about_someone_else():
    h = hit(PROSE)
    check = check_answer(
        "how do I help my friend",
        answer("A first session is a chance to ask questions. [1] Let them talk about it. [1]", [h]),
    )
    assert not any(f.startswith("to a helper") for f in check.fragments)


def test_the_metrics_count_passages_faithfulness_abstentions_and_directory_answers():
    one, two = hit(LIST, "c1"), hit(PROSE, "c2", 2)
    checks = [
        check_answer(
            "a",
            answer(
                "Grief can also become stuck. [1] It may be time to talk to someone about your "
                "grief if: [1]\n- You cannot sleep, eat or work months after the loss. [1]",
                [one],
            ),
        ),
        check_answer(
            "b",
            answer("Grief can also become stuck. [1]\n\nA first session is a chance to ask questions. [2]", [one, two]),
        ),
        check_answer("c", answer("Grief is always over in a month. [1]", [one])),  # not in the passage
        check_answer("d", answer(None, [])),
        check_answer(
            "e",
            answer("From our therapist directory: two of our therapists work in Mandarin.", [], from_directory=True),
        ),
    ]
    m = answer_metrics(checks)
    assert (m["questions"], m["answered"], m["directory_answers"]) == (5, 4, 1)
    assert m["abstention_rate"] == pytest.approx(0.2)
    assert m["single_passage_share"] == 2 / 3 and m["mean_passages"] == 4 / 3
    assert m["faithfulness"] == 2 / 3 and m["unfaithful"] == 1
    assert m["orphan_list_items"] == 0


def test_the_counsel_chat_parts_are_stable_and_about_seventy_thirty():
    parts = [counsel_chat_part(f"syn-{n:04d}") for n in range(1000)]
    assert parts == [counsel_chat_part(f"syn-{n:04d}") for n in range(1000)]
    assert 0.65 < parts.count("train") / 1000 < 0.75 and set(parts) == {"train", "held-out"}


def test_the_sample_is_stable_and_reads_as_answers_with_their_flags():
    h = hit(LIST)
    checks = [
        check_answer(f"question {n}", answer("You cannot sleep, eat or work months after the loss. [1]", [h]))
        for n in range(SAMPLE + 10)
    ]
    chosen = sample(checks)
    assert len(chosen) == SAMPLE and chosen == sample(list(reversed(checks)))
    text = sample_markdown("Answers", chosen)
    assert text.count("\n## ") == SAMPLE and "**flag** orphan list item" in text and "- [1] Title > Section" in text
    later = sample(checks, skip=SAMPLE)  # a second read: the questions after the first sample, none of them again
    assert len(later) == 10 and not {c.question for c in later} & {c.question for c in chosen}


def test_counsel_chat_answers_asks_only_the_part_it_is_given(settings, embedder, tmp_path):
    build_index(settings, embedder)
    rows = [
        {
            "id": f"syn-{n:04d}",
            "title": "How do I stop dreaming of falling?",
            "text": "Dreams every night.",
            "topic": "sleep",
            "answers": ["Dreams borrow from the day."],
        }
        for n in range(30)
    ]
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    metrics, text = counsel_chat_answers(KnowledgeBase(settings, embedder), data, "train")
    assert metrics["part"] == "train"
    assert metrics["questions"] == sum(counsel_chat_part(r["id"]) == "train" for r in rows)
    assert text.startswith("# Answers: counsel-chat questions (train part)")


def test_a_section_on_a_theme_the_question_never_raised_is_counted():
    h = hit("Listen calmly if your child tells you something, and let them know it is not their fault.")
    quoted = "Listen calmly if your child tells you something, and let them know it is not their fault. [1]"
    a = answer(quoted, [h])
    a.citations[0] = replace(a.citations[0], section="What should I do if I think someone is hurting my child?")
    kinds = [f.split(":")[0] for f in check_answer("should I take my daughter to therapy", a).fragments]
    assert kinds == ["a theme not raised (harm)"]
    assert check_answer("I think my ex is hurting my daughter, what do I do", a).fragments == []
    assert themes_unraised("Eating concerns", "When food feels out of control", "why do I binge at night") == set()
    assert themes_unraised("Eating concerns", "When food feels out of control", "why am I so tired") == {"eating"}


SITUATIONS = "Questions people ask about work, habits and getting back to themselves"


@pytest.mark.parametrize(
    ("title", "section", "question", "unraised"),
    [
        (
            SITUATIONS,
            "How do I tell a partner or someone I'm dating that I crossdress?",
            "should I check who my boyfriend messages late at night",
            {"gender-sexuality"},
        ),
        (
            SITUATIONS,
            "How do I tell a partner or someone I'm dating that I crossdress?",
            "I want my new partner to know I enjoy dressing as a woman",
            set(),
        ),
        (
            "Questions",
            "Why am I suddenly having confusing feelings about my gender?",
            "lately I wish to be a girl and I don't know why",
            set(),
        ),
        (
            "Questions",
            "Why am I suddenly having confusing feelings about my gender?",
            "I was born a female but I identify as a male",
            set(),
        ),
        (
            SITUATIONS,
            "Why do I feel guilty or confused about a sexual experience I didn't really want?",
            "my boyfriend's sex drive dropped after he cheated",
            {"unwanted-sex"},
        ),
        (
            SITUATIONS,
            "Why do I feel guilty or confused about a sexual experience I didn't really want?",
            "I feel guilty that I didn't say no to his advances",
            set(),
        ),
        ("Questions", "Why do I get unwanted sexual thoughts that disgust me?", "why do I get thoughts I hate", set()),
        ("Questions", "How do I rebuild my life after a divorce?", "my wife and I keep drifting apart", {"separation"}),
        ("Questions", "How do I rebuild my life after a divorce?", "my wife asked for a divorce last week", set()),
        (
            "Questions",
            "How do I cope when someone I love has died by suicide?",
            "I feel low and alone most days",
            {"suicide"},
        ),
        (
            "Questions",
            "How do I cope when someone I love has died by suicide?",
            "my brother died by suicide last spring",
            set(),
        ),
        (
            "Questions",
            "How do I forgive a partner who cheated if I've decided to stay?",
            "my girlfriend ended things last month",
            {"infidelity"},
        ),
        (
            "Questions",
            "How do I forgive a partner who cheated if I've decided to stay?",
            "he was texting another woman for months",
            set(),
        ),
        (
            "Questions",
            "Why do I bring anger from a past relationship into my new one?",
            "my wife and I keep drifting apart",
            {"anger"},
        ),
        (
            "Questions",
            "Why do I bring anger from a past relationship into my new one?",
            "I snap at my new girlfriend over nothing",
            set(),
        ),
        (
            "Questions people ask about family, parenting and anger",
            "How do I handle my toddler's tantrums?",
            "my son cries",
            set(),
        ),
        (
            "Questions",
            "Why do I bring anger from a past relationship into my new one?",
            "je suis toujours en colère contre mon chum",
            set(),
        ),
        ("Questions", "How do I rebuild my life after a divorce?", "on est séparés depuis un an", set()),
        (
            "Questions",
            "How do I cope when someone I love has died by suicide?",
            "mon frère s'est suicidé l'an passé",
            set(),
        ),
        (
            "Questions",
            "How do I rebuild my life after a divorce?",
            "comment garder mon couple en santé",
            {"separation"},
        ),
        (
            "Questions",
            "How do I adjust to civilian life after leaving the military?",
            "I left my job and feel lost",
            {"military"},
        ),
        (
            "Questions",
            "How do I adjust to civilian life after leaving the military?",
            "I was discharged from the army in May",
            set(),
        ),
    ],
)
def test_a_situation_the_heading_presupposes_must_be_raised_by_the_question(title, section, question, unraised):
    """Gender or sexuality, an unwanted sexual experience, a separation, suicide, infidelity, anger, the military:
    a question raises them in its own words, in English or French; the anger theme reads only the section's heading,
    since an FAQ page's title lists its subjects."""
    assert themes_unraised(title, section, question) == unraised


def test_crisis_text_counts_unless_the_visitor_asked_the_headings_own_question():
    line = "If you have chest pain you have never had before, call 911 or get medical care."
    h = hit(line + " Breathing out slowly can help the panic pass.")
    quoted = f"{line} [1] Breathing out slowly can help the panic pass. [1]"
    a = answer(quoted, [h])
    kinds = [f.split(":")[0] for f in check_answer("how do I get through a panic attack at work", a).fragments]
    assert kinds == ["crisis text without a crisis"]
    a = replace(a, from_heading=True)  # the section's heading asks what the visitor asks
    assert check_answer("how do I get through a panic attack at work", a).fragments == []
