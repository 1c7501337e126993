"""Answers: a cleaned question, then the most relevant contiguous span of one passage (sometimes a second), quoted
verbatim in the author's order with its list's lead-in, never a fragment, cited and checked for faithfulness."""

from __future__ import annotations

import re

import pytest

import kb.answering.compose as compose_module
from kb.answering.compose import (
    MAX_QUERY_CHARS,
    cited_sentences,
    clean_query,
    compose,
    compose_lead,
    is_faithful,
)
from kb.errors import InputError
from kb.index.build import build_index
from kb.knowledge_base import KnowledgeBase
from kb.records import Chunk, Citation, Hit

from fakes import HashingEmbedder

QUERY = "what is transference and where do those feelings come from"

TRANSFERENCE = (
    "Transference means carrying feelings from an important early relationship into a new one. "
    "A person may feel towards a boss the way they once felt towards a strict parent. "
    "The feeling is real, but its source is older than the situation. "
    "Most people never notice their own transference at work or at home."
)
THERAPY = (
    "In therapy, transference is not a problem to avoid or a mistake to correct. "
    "It is a window onto feelings and patterns that are otherwise hard to see. "
    "Freud first described transference in the consulting room with his own patients."
)
SLEEP = (
    "Keep a regular bedtime and wake time on most days of the week. "
    "Dim the lights and put screens away an hour before bed."
)
SIGNS = (
    "Grief is not a problem to be solved, and it has no timetable. Grief can also become stuck. "
    "It may be time to talk to someone about your grief if:\n\n"
    "- You are using alcohol or other substances to numb the pain of your grief.\n"
    "- You cannot sleep, eat or work months after the loss of someone you love.\n"
    "- Your grief feels as raw as on the first day, many months later.\n\n"
    "Talking with a therapist about grief can help."
)
# A list continued from the passage before: its lead-in is not in this passage.
CONTINUED = (
    "- You are using alcohol or other substances to numb the pain of your grief.\n"
    "- You cannot sleep, eat or work months after the loss of someone you love.\n\n"
    "Grief that lasts a long time is common after a sudden loss of someone close."
)

SENTENCE_WITH_MARKER = re.compile(r"(.+?)\s\[(\d+)\](?:\s|$)", re.S)


def make_hit(
    text: str,
    doc_id: str = "doc",
    rank: int = 1,
    ordinal: int = 0,
    title: str = "A title",
    section: str = "A section",
    page: int | None = None,
    dense: float | None = 0.6,
) -> Hit:
    chunk = Chunk(
        id=f"{doc_id}#{ordinal}",
        doc_id=doc_id,
        ordinal=ordinal,
        text=text,
        section=section,
        start=0,
        end=len(text),
        page=page,
    )
    return Hit(
        rank=rank,
        chunk=chunk,
        score=1.0 / rank,
        title=title,
        topics=[],
        audience="public",
        url=f"/library?doc={doc_id}",
        dense_score=dense,
    )


class CountingEmbedder(HashingEmbedder):
    """The fake model, remembering every text it was asked to embed."""

    def __init__(self, dimension: int = 256):
        super().__init__(dimension)
        self.seen: list[str] = []

    def embed(self, texts):
        self.seen.extend(texts)
        return super().embed(texts)


@pytest.fixture
def model() -> HashingEmbedder:
    """A wider fake embedder than the shared one, so unrelated words rarely share a bucket."""
    return HashingEmbedder(256)


@pytest.fixture
def hits() -> list[Hit]:
    return [
        make_hit(
            TRANSFERENCE,
            "transference-basics",
            rank=1,
            title="Transference in everyday life",
            section="What transference is",
            page=None,
        ),
        make_hit(
            THERAPY,
            "the-therapeutic-relationship",
            rank=2,
            title="The therapeutic relationship",
            section="In therapy",
            page=3,
        ),
        make_hit(SLEEP, "sleep-and-dreams", rank=3, title="Sleep and dreams", section="Better nights"),
    ]


def quoted(text: str) -> list[str]:
    return [s for s, _ in cited_sentences(text)]


# clean_query


@pytest.mark.parametrize("query", ["", "   ", "\n\t  \n", None])
def test_an_empty_question_is_an_input_error_that_says_what_to_do(query):
    with pytest.raises(InputError, match="empty") as caught:
        clean_query(query)
    assert "type a few words" in str(caught.value)


def test_whitespace_is_collapsed_and_a_normal_question_has_no_notices():
    assert clean_query("  what   is\n transference?\t") == ("what is transference?", [])


def test_an_overlong_question_is_cut_at_a_word_with_a_notice():
    text, notices = clean_query("transference " * 400)  # 5,200 characters
    assert len(text) <= MAX_QUERY_CHARS
    assert set(text.split()) == {"transference"}  # cut between words, not inside one
    assert len(notices) == 1 and str(MAX_QUERY_CHARS) in notices[0] and "long" in notices[0]


def test_a_question_just_at_the_limit_is_kept_whole():
    question = ("a" * 9 + " ") * (MAX_QUERY_CHARS // 10)
    text, notices = clean_query(question)
    assert text == question.strip() and notices == []


@pytest.mark.parametrize("query", ["🙂🙂🙂", "?!?! ...", "💔 — !!"])
def test_emoji_or_punctuation_only_gets_a_notice_not_a_crash(query):
    text, notices = clean_query(query)
    assert text == " ".join(query.split())
    assert any("no words" in n for n in notices)


def test_asking_with_emoji_only_abstains_politely(settings, embedder):
    build_index(settings, embedder)
    answer = KnowledgeBase(settings, embedder).ask("🙂🙂🙂 ?!")
    assert answer.abstained and answer.text is None and answer.citations == [] and answer.passages == []
    assert any("no words" in n for n in answer.notices)
    assert answer.disclaimer


def test_asking_an_empty_question_raises_input_error(settings, embedder):
    build_index(settings, embedder)
    with pytest.raises(InputError, match="empty"):
        KnowledgeBase(settings, embedder).ask("   ")


# compose: one coherent span


def test_the_answer_is_one_contiguous_span_of_one_passage_in_the_authors_order(hits, model):
    text, citations = compose(QUERY, hits, model)
    sentences = quoted(text)
    assert 2 <= len(sentences) <= 5
    assert [c.doc_id for c in citations] == ["transference-basics"]
    assert " ".join(sentences) in TRANSFERENCE  # contiguous and in order: the sentences as the author wrote them
    assert SENTENCE_WITH_MARKER.sub("", text).strip() == ""  # nothing uncited
    assert is_faithful(text, citations, hits)


def test_the_citation_describes_its_passage_and_quotes_the_span(hits, model):
    text, citations = compose(QUERY, hits, model, source_urls={"transference-basics": "https://example.org/t"})
    (c,) = citations
    hit = hits[0]
    assert (c.n, c.doc_id, c.title, c.section, c.page, c.url) == (
        1,
        "transference-basics",
        hit.title,
        hit.chunk.section,
        None,
        hit.url,
    )
    assert c.source_url == "https://example.org/t" and c.chunk_id == hit.chunk.id
    assert c.quote == " ".join(quoted(text))


def test_limit_caps_the_sentences_of_a_span(hits, model):
    assert len(quoted(compose(QUERY, hits, model, limit=2)[0])) == 2


def test_an_unrelated_passage_is_never_stitched_on(hits, model):
    _, citations = compose(QUERY, hits, model)
    assert "sleep-and-dreams" not in {c.doc_id for c in citations}


def test_a_second_passage_is_added_when_it_says_something_the_first_does_not(model, monkeypatch):
    monkeypatch.setattr(compose_module, "SECOND_WITHIN", 1.0)  # the fake embedder's scores are not the model's
    first = make_hit(TRANSFERENCE, "a", rank=1)
    second = make_hit(THERAPY, "b", rank=2)
    text, citations = compose(
        "in therapy transference is not a problem to avoid, it is a window onto feelings and "
        "patterns; transference means carrying feelings from an important early relationship "
        "into a new one",
        [first, second],
        model,
    )
    assert [c.n for c in citations] == [1, 2] and {c.doc_id for c in citations} == {"a", "b"}
    first_part, second_part = text.split("\n\n")
    assert all(n == 1 for _, n in cited_sentences(first_part)) and all(n == 2 for _, n in cited_sentences(second_part))
    assert is_faithful(text, citations, [first, second])


def test_a_second_passage_that_scores_well_below_the_first_is_left_out(model, monkeypatch):
    monkeypatch.setattr(compose_module, "SECOND_WITHIN", -1.0)
    text, citations = compose(
        "in therapy transference is not a problem to avoid, it is a window onto feelings and "
        "patterns; transference means carrying feelings from an important early relationship "
        "into a new one",
        [make_hit(TRANSFERENCE, "a", rank=1), make_hit(THERAPY, "b", rank=2)],
        model,
    )
    assert [c.doc_id for c in citations] == ["a"]


def test_the_same_words_in_an_overlapping_passage_are_not_quoted_twice(model):
    first = make_hit(TRANSFERENCE, "a", rank=1, ordinal=0)
    overlap = make_hit(
        TRANSFERENCE.split(". ", 2)[-1] + " Transference at home is common with partners and parents.",
        "a",
        rank=2,
        ordinal=1,
    )
    text, _ = compose(QUERY, [first, overlap], model)
    sentences = quoted(text)
    assert len(sentences) == len(set(sentences))


def test_the_question_is_not_embedded_again_when_its_vector_is_given(hits):
    counting = CountingEmbedder()
    vector = counting.embed([QUERY])[0]
    counting.seen.clear()
    with_vector = compose(QUERY, hits, counting, query_vec=vector)
    assert QUERY not in counting.seen
    assert with_vector == compose(QUERY, hits, HashingEmbedder(256))


# compose: lists and their lead-ins


def test_a_list_is_quoted_with_its_lead_in_and_rendered_as_a_list(model):
    hit = make_hit(SIGNS)
    text, citations = compose(
        "when should I talk to someone about grief, alcohol to numb the pain, cannot sleep", [hit], model
    )
    lines = text.split("\n")
    lead = next(i for i, line in enumerate(lines) if "It may be time to talk to someone" in line)
    items = [line for line in lines if line.startswith("- ")]
    assert items and all(lines.index(item) > lead for item in items)
    assert "- You are using alcohol or other substances to numb the pain of your grief. [1]" in lines
    assert is_faithful(text, citations, [hit])


def test_a_list_whose_lead_in_is_in_another_passage_is_never_quoted(model):
    hit = make_hit(CONTINUED)
    text, _ = compose("alcohol substances numb the pain grief cannot sleep eat work", [hit], model)
    assert "You are using alcohol" not in text and "You cannot sleep" not in text


def test_a_lead_in_is_never_quoted_without_its_list(model):
    hit = make_hit(SIGNS)
    text, _ = compose(
        "grief is not a problem to be solved and has no timetable; stuck grief, talk to someone", [hit], model
    )
    for sentence in quoted(text):
        if sentence.endswith(":"):
            assert "\n- " in text.split(sentence, 1)[1]


def test_a_long_list_gives_its_most_relevant_items_in_order(model):
    items = [
        f"- Sign number {n} is feeling {word} for most of the day, most days."
        for n, word in enumerate(
            ["tired", "restless", "hopeless", "numb", "irritable", "lonely", "guilty", "empty", "flat"]
        )
    ]
    hit = make_hit("Some signs of a low mood that lasts include:\n" + "\n".join(items))
    text, _ = compose("feeling hopeless and guilty and empty", [hit], model)
    shown = [line for line in text.split("\n") if line.startswith("- ")]
    assert 1 <= len(shown) <= 6
    assert shown == sorted(shown, key=lambda line: int(re.search(r"number (\d)", line).group(1)))
    assert any("hopeless" in line for line in shown)


# compose: no fragments


@pytest.mark.parametrize(
    "passage",
    [
        "No. Many people feel unsure about taking a child to therapy, and that is common.",
        "Yes! Couples therapy can help partners who argue about the same things.",
    ],
)
def test_a_lone_yes_or_no_is_never_quoted(model, passage):
    hit = make_hit(passage + " A first meeting is a chance to ask questions and see how it feels.")
    text, _ = compose("should I take my child to a first therapy meeting", [hit], model)
    assert text and not any(re.fullmatch(r"(No|Yes)[.!]", s) for s in quoted(text))
    assert not text.startswith(("No", "Yes"))


def test_a_quote_never_opens_on_a_reply_to_the_heading_or_mid_thought(model):
    hit = make_hit(
        "Yes, couples therapy can help partners who argue about the same things again and again. "
        "Partners who argue about chores are often arguing about feeling alone. "
        "This means the argument carries an older hurt that has not been heard."
    )
    text, _ = compose("why do partners argue about chores and the same things", [hit], model)
    assert text and not text.startswith("Yes")
    assert not quoted(text)[0].startswith("This means")


def test_a_second_span_never_comes_from_the_first_span_s_section(model, monkeypatch):
    monkeypatch.setattr(compose_module, "SECOND_WITHIN", 1.0)  # the fake embedder's scores are not the model's
    question = (
        "in therapy transference is not a problem to avoid, it is a window onto feelings and "
        "patterns; transference means carrying feelings from an important early relationship "
        "into a new one"
    )
    first = make_hit(TRANSFERENCE, "a", rank=1, section="Transference")
    other = make_hit(THERAPY, "a", rank=2, ordinal=1, section="In therapy")
    assert len(compose(question, [first, other], model)[1]) == 2  # another section adds to the first
    same = make_hit(THERAPY, "a", rank=2, ordinal=1, section="Transference")
    assert len(compose(question, [first, same], model)[1]) == 1  # the same section's next passage only goes on


def test_a_section_on_a_heavy_theme_is_quoted_only_to_a_question_that_raises_it(model):
    harm = make_hit(
        "Should you take your daughter to therapy? Listen calmly if your daughter tells you something. "
        "Therapy for your daughter can help, and trained professionals are better placed to ask.",
        "family",
        rank=1,
        section="What should I do if I think someone is hurting my child?",
    )
    teens = make_hit(
        "Teens are more likely to agree to therapy when they feel they have some choice in it. "
        "Therapy presented as support, not punishment, helps a child say yes.",
        "teens",
        rank=2,
        section="How do I get my teenager to see a therapist?",
    )
    text, citations = compose("should I take my daughter to therapy", [harm, teens], model)
    assert text and {c.doc_id for c in citations} == {"teens"}
    _, citations = compose("I think someone is hurting my daughter, what should I do", [harm, teens], model)
    assert "family" in {c.doc_id for c in citations}


def test_headings_unbalanced_quotes_and_sentences_about_the_page_are_not_quoted(model):
    hit = make_hit(
        "# Why transference matters\n\n"
        "This article explains transference in plain words for everyone. "
        'He said, "I always feel judged by my boss. '
        "Transference means carrying feelings from an important early relationship into a new one. "
        "A person may feel towards a boss the way they once felt towards a strict parent."
    )
    text, _ = compose("transference feelings boss parent judged article", [hit], model)
    sentences = quoted(text)
    assert sentences == [
        "Transference means carrying feelings from an important early relationship into a new one.",
        "A person may feel towards a boss the way they once felt towards a strict parent.",
    ]


def test_a_span_runs_into_the_next_paragraph_only_from_the_start_of_its_own(model):
    hit = make_hit(
        "Sleep matters for mood in many ways. Poor sleep makes feelings of anger and worry stronger.\n\n"
        "Anger after a bad night is common and usually passes with rest and time."
    )
    text, _ = compose("poor sleep makes anger and worry stronger; anger after a bad night", [hit], model)
    sentences = quoted(text)
    assert sentences and not (sentences[0].startswith("Poor sleep") and len(sentences) > 1)


def test_a_short_sentence_never_stands_alone(model):
    hit = make_hit("It passes.\n\nSomething else entirely about sleep and bedtime routines for the week.")
    text, _ = compose("it passes", [hit], model)
    assert "It passes." not in quoted(text)


def test_advice_to_a_helper_is_left_out_when_the_visitor_asks_for_themselves(model):
    passage = (
        "Grief after a loss can come in waves that feel overwhelming at first. "
        "Let them talk about the person who died, as often as they need to. "
        "Over months, the waves of grief usually become less frequent."
    )
    hit = make_hit(passage)
    for_me, _ = compose("how do I cope with grief waves after a loss, talk about the person who died", [hit], model)
    assert "Let them talk" not in for_me
    for_friend, _ = compose("how do I help my friend with grief, let them talk about the person who died", [hit], model)
    assert "Let them talk about the person who died, as often as they need to. [1]" in for_friend


def test_emphasis_marks_are_dropped_and_the_answer_is_still_faithful(model):
    hit = make_hit(
        "Anger comes in many forms, and not all of them are loud. Some common patterns include:\n"
        "- **Hidden anger:** smiling and agreeing while feeling resentful inside.\n"
        "- **Indirect anger:** sarcasm, being late, or quietly withholding."
    )
    text, citations = compose("hidden anger smiling resentful sarcasm", [hit], model)
    assert "**" not in text and "- Hidden anger: smiling and agreeing while feeling resentful inside. [1]" in text
    assert is_faithful(text, citations, [hit])


def test_nothing_quotable_gives_an_empty_answer(model):
    hits = [make_hit("# Transference\n\nWhat is transference?\nSee below.")]
    assert compose(QUERY, hits, model) == ("", [])


# compose_lead (the crisis answer)


def test_the_lead_is_the_opening_sentences_of_the_passage_in_order():
    text, citations = compose_lead(make_hit(TRANSFERENCE), limit=3)
    assert quoted(text) == TRANSFERENCE.split(" Most")[0].replace(". ", ".\n").split("\n")
    assert [c.n for c in citations] == [1]


def test_the_lead_keeps_a_list_with_its_lead_in():
    hit = make_hit(
        "If you are thinking about suicide, please reach out now. You can get help in these ways:\n"
        "- Call or text 9-8-8 at any time.\n- Call 911 or go to an emergency department.\n\n"
        "After the crisis, ongoing support helps."
    )
    text, citations = compose_lead(hit, limit=4)
    assert text.split("\n")[1:] == [
        "- Call or text 9-8-8 at any time. [1]",
        "- Call 911 or go to an emergency department. [1]",
    ]
    assert is_faithful(text, citations, [hit])


# is_faithful


@pytest.fixture
def answer(hits):
    """An answer quoting two passages, written out as compose writes one."""
    one, two = hits[0], hits[1]
    s1, s2 = TRANSFERENCE.split(". ")[:2]
    s3 = THERAPY.split(". ")[0]
    text = f"{s1}. [1] {s2}. [1]\n\n{s3}. [2]"
    citations = [
        Citation(1, one.chunk.doc_id, one.title, one.chunk.section, None, one.url, f"{s1}. {s2}.", one.chunk.id),
        Citation(2, two.chunk.doc_id, two.title, two.chunk.section, 3, two.url, f"{s3}.", two.chunk.id),
    ]
    return text, citations


def test_an_answer_quoting_two_passages_is_faithful(answer, hits):
    assert is_faithful(*answer, hits)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("feelings", "memories", 1),  # a changed word
        lambda t: t.replace("[1]", "[7]", 1),  # a citation that does not exist
        lambda t: t.replace("[1]", "[X]").replace("[2]", "[1]").replace("[X]", "[2]"),  # the wrong passage cited
        lambda t: t + " Therapy always cures anxiety within a month.",  # an uncited sentence at the end
        lambda t: "Therapy always cures anxiety within a month.\n" + t,  # an uncited line at the start
        lambda t: "- Therapy always cures anxiety. [1]\n" + t,  # an invented list item
        lambda t: re.sub(r" \[\d+\]", "", t),  # no markers at all
    ],
)
def test_a_tampered_answer_is_not_faithful(answer, hits, tamper):
    text, citations = answer
    changed = tamper(text)
    assert changed != text
    assert not is_faithful(changed, citations, hits)


def test_a_sentence_from_a_passage_that_was_not_retrieved_is_not_faithful(answer, hits):
    text, citations = answer
    assert not is_faithful(text, citations, hits[1:])


def test_an_abstention_is_trivially_faithful(hits):
    assert is_faithful(None, [], hits) and is_faithful("", [], hits)


@pytest.mark.parametrize(
    "question,for_self",
    [
        ("My mom died last month and I can't stop crying", True),
        ("I lost my dad in the spring and feel numb", True),
        ("How do I help my mom who is depressed?", False),
        ("my friend lost her dad, how can I help her?", False),
        # Someone else is in the question, but the asker's own feelings are its subject.
        ("My partner lives abroad and I have anxiety about him cheating; how do I stop worrying?", True),
        ("My husband yells at me and I feel worthless", True),
        ("my anxiety gets worse when my wife travels", True),
        ("my boyfriend is depressed and I feel sad, how can I support him?", False),
        ("my son is anxious about school", False),
        ("I think he is anxious all the time", False),
    ],
)
def test_who_a_question_is_for(question, for_self):
    from kb.answering.readable import asks_for_self

    assert asks_for_self(question) is for_self


@pytest.mark.parametrize(
    "sentence,question,unmentioned",
    [
        ("If your teen still refuses, family therapy can help.", "why do I feel so anxious at work", True),
        ("If your teen still refuses, family therapy can help.", "my daughter is 15 and refuses therapy", False),
        ("As a parent, you may lose your temper and feel guilty.", "I'm a dad and I yell at my kids", False),
        ("As a parent, you may lose your temper and feel guilty.", "My dad yells at me every day", True),
        ("Losing your temper with your children is common.", "I'm a mom and feel guilty after yelling", False),
        ("It is not your job to fix your parent.", "my adult daughter can't afford the trip", True),
        ("It is not your job to fix your parent.", "my mother drinks too much, what can I do", False),
        ("Talk to your partner about what you need.", "is our marriage worth another try?", False),
        ("Talk to your partner about what you need.", "I can't stop thinking about my childhood", True),
        ("Talk to your partner about what you need.", "I would like to repair the relationship with my dad", True),
        ("Talk to your partner about what you need.", "we're in a relationship but fight a lot", False),
        ("Talk to your partner about what you need.", "should we try couples therapy first?", False),
        ("Talk to your partner about what you need.", "I'll be away for a couple of weeks", True),
        # Everyone had parents and a childhood: these give the reader no one new.
        ("Looking at your childhood is not about blaming your parents.", "why am I like this", False),
        ("A breakup can hurt more when it touches a loss, such as a parent who left.", "my ex left me", False),
        ("If you were put down as a child, it may feel normal.", "why do I accept being treated badly", False),
    ],
)
def test_a_sentence_that_gives_the_visitor_someone_they_never_mentioned_is_found(sentence, question, unmentioned):
    from kb.answering.readable import assumes_someone_unmentioned

    assert assumes_someone_unmentioned(sentence, question) is unmentioned


def test_lines_about_a_child_the_visitor_never_mentioned_are_not_quoted(model):
    passage = (
        "Going quiet when a conversation feels hard is very common, and it often eases once the fear has words. "
        "Staying calm and available works better than pressing your teenager to talk. "
        "Noticing what the silence protects you from can make talking feel less overwhelming over time."
    )
    hit = make_hit(passage)
    for_me, _ = compose("staying calm and available, pressing to talk", [hit], model)
    assert for_me and "your teenager" not in for_me
    for_parent, _ = compose("my teenager: staying calm and available, pressing to talk", [hit], model)
    assert "pressing your teenager to talk" in for_parent


def test_a_section_about_someone_the_visitor_never_mentioned_gives_way_to_one_about_them(model):
    # The same words under two headings: the better-ranked one is about a teenager.
    words = (
        "Anxiety before talking can make a person go quiet for days at a time. "
        "Staying calm and noticing the fear underneath usually works better than pressing."
    )
    about_teen = make_hit(words, doc_id="teen", section="How do I help my teenager who won't talk to me?")
    about_me = make_hit(words, doc_id="me", section="Why do I go quiet when I feel anxious?", rank=2)
    _, citations = compose("anxiety before talking makes me go quiet for days", [about_teen, about_me], model)
    assert citations[0].doc_id == "me"
    _, citations = compose("anxiety makes my teenager go quiet for days", [about_teen, about_me], model)
    assert citations[0].doc_id == "teen"


@pytest.mark.parametrize(
    "question,unmentioned",
    [
        ("my husband left me and the kids last year", True),
        ("I would like to repair the relationship with my dad", True),
        ("I'm my mother's caregiver and I resent her", False),
        ("I look after my grandfather and feel angry at him", False),
    ],
)
def test_caring_for_someone_is_assumed_only_when_the_visitor_says_so(question, unmentioned):
    from kb.answering.readable import assumes_someone_unmentioned

    assert assumes_someone_unmentioned("Resentment toward someone you are caring for is very common.", question) is (
        unmentioned
    )


@pytest.mark.parametrize("wrong_role", [False, True])
def test_a_passage_for_someone_else_is_never_added_as_the_second_part_of_an_answer(wrong_role):
    import numpy as np

    from kb.answering.compose import Span, _second
    from kb.ingest.passage import passage_units

    first_hit = make_hit(TRANSFERENCE, doc_id="first")
    other_hit = make_hit(THERAPY, doc_id="other", rank=2)
    first = Span(first_hit, passage_units(first_hit.chunk)[:2], [0, 1], score=0.70, relevance=0.5)
    other = Span(other_hit, passage_units(other_hit.chunk)[:2], [0, 1], 0.68, 0.6, wrong_role=wrong_role)
    vectors = {"first#0": np.eye(8)[:4], "other#0": np.eye(8)[4:]}  # the two say different things
    assert (_second(first, [first, other], vectors, 4) is None) is wrong_role


def test_crisis_guidance_in_a_passage_is_never_quoted_as_the_answer_to_a_question(model):
    # Crisis lines belong in the crisis panel, shown first when the question is a crisis; quoted to someone asking
    # about a divorce they read as an alarm about them.
    passage = (
        "A family doctor, nurse practitioner or therapist can help you sort out what is happening after a divorce. "
        "If you are thinking about suicide or are in danger, call or text 9-8-8 at any time, or call 911. "
        "Many people find that the first months after a divorce are the hardest, and that support helps."
    )
    text, _ = compose("how do I rebuild my life after a divorce, call, danger, doctor", [make_hit(passage)], model)
    assert text and "9-8-8" not in text and "911" not in text


@pytest.mark.parametrize(
    "sentence,guidance",
    [
        ("If you are thinking about suicide, call or text 9-8-8.", True),
        ("Move away from anything you might use to hurt yourself.", True),
        ("In an emergency, call 911.", True),
        ("Several kinds of therapy have good evidence for people who have had suicidal thoughts.", False),
        ("Grief after a suicide loss is often mixed with guilt and anger.", False),
    ],
)
def test_crisis_guidance_is_recognised(sentence, guidance):
    from kb.answering.readable import is_crisis_instruction

    assert is_crisis_instruction(sentence) is guidance


@pytest.mark.parametrize(
    "section,question,reversed_acts",
    [
        # the one who cheated and the one cheated on
        (
            "Why do I keep cheating even though I care about my partner?",
            "my husband cheated on me, can I forgive him",
            {"cheat"},
        ),
        (
            "How do I forgive a partner who cheated if I've decided to stay?",
            "I cheated on my wife and she found out",
            {"cheat"},
        ),
        (
            "How do I forgive a partner who cheated if I've decided to stay?",
            "I was cheated on and I want to stay",
            set(),
        ),
        ("How do I rebuild trust after I cheated on my partner?", "my wife keeps accusing me of cheating", {"cheat"}),
        ("Can trust be rebuilt after someone cheats?", "my boyfriend cheated on me twice", set()),
        # jealousy, feelings, whose ex, yelling, desire
        (
            "Why am I so jealous when my partner has done nothing wrong?",
            "my wife is jealous of my coworkers",
            {"jealous"},
        ),
        ("Why am I so jealous when my partner has done nothing wrong?", "I think I'm jealous of my sister", set()),
        (
            "What can I do when I've lost feelings for my long-term partner?",
            "my boyfriend is losing feelings for me",
            {"lost-feelings"},
        ),
        (
            "What can I do if I feel my partner isn't over their ex?",
            "my ex says it's over but keeps texting me",
            {"ex"},
        ),
        (
            "What can I do if I feel my partner isn't over their ex?",
            "my boyfriend still texts his ex every night",
            set(),
        ),
        ("How can I stop yelling at my children?", "my stepdad, I mean it, screams at me every night", {"yell"}),
        ("Why don't I enjoy sex even though I love my partner?", "my wife never wants sex anymore", {"desire"}),
        ("Why don't I enjoy sex even though I love my partner?", "I don't enjoy sex with my husband anymore", set()),
        # a section that names no side fits both
        ("Is it normal for desire to fade in a long relationship?", "my husband has no sex drive", set()),
    ],
)
def test_a_section_for_the_other_side_of_what_the_visitor_describes_is_found(section, question, reversed_acts):
    from kb.answering.readable import acts_reversed

    assert acts_reversed("Questions people ask about partners", section, question) == reversed_acts


def test_a_section_for_the_other_side_is_never_quoted(model):
    words = (
        "Trust after an affair is rebuilt slowly, through honesty about what happened and patience with the hurt. "
        "Many couples find that talking it through with a therapist helps them decide what comes next."
    )
    cheater = make_hit(words, doc_id="cheater", section="Why do I keep cheating even though I care about my partner?")
    cheated = make_hit(words, doc_id="cheated", section="How do I forgive a partner who cheated?", rank=2)
    question = "my husband cheated on me, trust after an affair, honesty, patience with the hurt"
    _, citations = compose(question, [cheater, cheated], model)
    assert [c.doc_id for c in citations] == ["cheated"]
    _, citations = compose(question, [cheater], model)
    assert citations == []
