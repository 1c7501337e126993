"""Questions about our therapists (language, place, format, fees, openings, who they see, credentials, pronouns,
booking) are answered from the directory's fields, labelled as such, with the question's filters applied."""

from __future__ import annotations

import pytest
import yaml

from kb.answering.directory_answer import LABEL, answer_from_directory, read_question
from kb.directory.matching import TherapistFilters
from kb.directory.therapists import Directory, Therapist
from kb.index.build import build_index
from kb.knowledge_base import KnowledgeBase


def therapist(tid: str, name: str, **fields) -> Therapist:
    base = dict(
        id=tid,
        name=name,
        pronouns="she/her",
        credentials="RP",
        bio="A bio.",
        modalities=("psychodynamic",),
        specialties=("anxiety",),
        populations=("adults",),
        languages=("English",),
        formats=("in-person",),
        city="Toronto",
        neighbourhood="Annex",
        accepting_new_clients=True,
        fee=150,
        sliding_scale=False,
        profile_url=f"https://example.org/{tid}",
    )
    base.update(fields)
    return Therapist(**base)


@pytest.fixture
def directory() -> Directory:
    return Directory(
        [
            therapist(
                "mei",
                "Mei Chen",
                languages=("English", "Mandarin"),
                formats=("online",),
                fee=120,
                sliding_scale=True,
                populations=("adults", "couples"),
            ),
            therapist(
                "wei",
                "Wei Zhang",
                languages=("English", "Cantonese", "Mandarin"),
                city="Ottawa",
                neighbourhood="Centretown",
                accepting_new_clients=False,
                fee=200,
                credentials="PhD C.Psych",
                pronouns="he/him",
            ),
            therapist(
                "jo",
                "Jordan Bell",
                pronouns="they/them",
                populations=("adolescents",),
                fee=110,
                formats=("in-person", "online"),
                credentials="MSW RSW",
                languages=("English", "French"),
            ),
        ],
        "https://example.org/therapists",
        True,
    )


def ask(question: str, directory: Directory, **kw):
    return answer_from_directory(question, directory, **kw)


def test_a_language_question_names_the_therapists_who_work_in_it(directory):
    reply = ask("Can I see a therapist who speaks Mandarin?", directory)
    assert reply.text.startswith(LABEL + " (sample data): Two of our 3 therapists work in Mandarin:")
    assert "Mei Chen" in reply.text and "Wei Zhang" in reply.text and "Jordan Bell" not in reply.text
    assert reply.filters.language == "Mandarin" and set(reply.ids) == {"mei", "wei"}


def test_a_language_nobody_lists_says_so_and_lists_the_languages_we_have(directory):
    reply = ask("Do you have a therapist who speaks Swahili?", directory)
    assert "None of our therapists lists Swahili." in reply.text
    assert "Cantonese, French and Mandarin" in reply.text


@pytest.mark.parametrize(
    "question, asks, check",
    [
        ("Do you offer online sessions?", ["format"], lambda f: f.format == "online"),
        ("Are you accepting new clients?", ["accepting"], lambda f: f.accepting),
        ("Do you offer a sliding scale?", ["fees"], lambda f: f.sliding_scale),
        ("Do any of your therapists work with teens?", ["population"], lambda f: f.population == "adolescents"),
        ("Can my partner and I come together as a couple?", ["population"], lambda f: f.population == "couples"),
        ("Is there a therapist under $130 a session?", ["fees"], lambda f: f.max_fee == 130),
    ],
)
def test_the_question_sets_the_directory_filters(directory, question, asks, check):
    q = read_question(question, directory)
    assert q.asks == asks and check(q.filters)


def test_a_place_a_credential_and_pronouns_narrow_the_list(directory):
    assert ask("Do you have anyone in Ottawa?", directory).ids == ["wei"]
    reply = ask("Do you have a psychologist?", directory)
    assert reply.ids == ["wei"] and "One of our 3 therapists is a psychologist: Wei Zhang" in reply.text
    assert ask("Is there a therapist who uses they/them pronouns?", directory).ids == ["jo"]


def test_nobody_fitting_is_said_plainly(directory):
    reply = ask("Do you have a psychiatrist?", directory)
    assert "None of our therapists are psychiatrists." in reply.text and reply.ids == []


def test_fees_without_a_limit_give_the_range_and_the_sliding_scale(directory):
    reply = ask("How much does a session cost?", directory)
    assert (
        "Fees are $110 to $200 a session (CAD); one of our 3 therapists offer a sliding scale: Mei Chen." in reply.text
    )


def test_how_do_i_book_answers_with_the_practices_booking_route(directory):
    reply = ask(
        "How do I book an appointment?",
        directory,
        booking_text="Call our intake line at 555-0100.",
        booking_url="https://example.org/book",
    )
    assert reply.text.endswith("Call our intake line at 555-0100. https://example.org/book")
    default = ask("How do I book?", directory)
    assert "https://example.org/therapists" in default.text  # no setting: the directory's own link


def test_the_visitors_own_filters_still_apply(directory):
    reply = ask("Can I see a therapist who speaks Mandarin?", directory, visitor=TherapistFilters(accepting=True))
    assert reply.ids == ["mei"] and reply.filters.accepting and reply.filters.language == "Mandarin"


@pytest.mark.parametrize(
    "question",
    [
        "Is online therapy as effective as in person?",
        "How do I help my teenager who is depressed?",
        "What's the difference between a psychologist and a psychotherapist?",
        "what's the difference between a psychologist, a registered psychotherapist and a social worker in Canada?",
        "What is a sliding scale?",
        "Is therapy covered by OHIP?",
        "Why do I feel anxious when I speak English at work?",
        "I moved to Toronto and feel lonely",
        "I have been feeling low for months and I do not know why; my partner works online all day and I am home "
        "alone, and I keep wondering whether therapy could help someone like me at all or whether I should wait",
        # a fee or format word about something else than therapy
        "what's the exchange rate from Canadian to US dollars today",
        "where can I watch the Raptors game online",
        "why are grocery prices going up so fast this year",
    ],
)
def test_questions_for_the_library_are_left_to_the_library(directory, question):
    assert answer_from_directory(question, directory) is None


def test_ask_answers_a_directory_question_from_the_directory(settings, embedder, directory):
    rows = [
        {
            "id": t.id,
            "name": t.name,
            "pronouns": t.pronouns,
            "credentials": t.credentials,
            "bio": t.bio,
            "modalities": list(t.modalities),
            "specialties": ["anger"],
            "populations": list(t.populations),
            "languages": list(t.languages),
            "formats": list(t.formats),
            "location": {"city": t.city, "neighbourhood": t.neighbourhood},
            "accepting_new_clients": t.accepting_new_clients,
            "fee": t.fee,
            "sliding_scale": t.sliding_scale,
            "profile_url": t.profile_url,
        }
        for t in directory.therapists
    ]
    settings.therapists_path.write_text(
        yaml.safe_dump({"sample_data": True, "directory_url": directory.directory_url, "therapists": rows}),
        encoding="utf-8",
    )
    build_index(settings, embedder)
    answer = KnowledgeBase(settings.replace(booking_text="Book through our front desk."), embedder).ask(
        "Can I see a therapist who speaks Mandarin?"
    )
    assert answer.from_directory and not answer.abstained and answer.citations == []
    assert answer.text.startswith(LABEL) and {t.id for t in answer.therapists} == {"mei", "wei"}
    booked = KnowledgeBase(settings.replace(booking_text="Book through our front desk."), embedder).ask(
        "How do I book a session?"
    )
    assert "Book through our front desk." in booked.text
    usual = KnowledgeBase(settings, embedder).ask("what is transference?")
    assert not usual.from_directory
