"""Therapist matching: the visitor's filters, ranking by topic coverage and profile, and the reason shown."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kb.directory.matching import (
    PROFILE_WEIGHT,
    TOPIC_WEIGHT,
    TherapistFilters,
    describe,
    filter_therapists,
    match_therapists,
    matching_topics,
)
from kb.directory.therapists import Therapist

LABELS = {"trauma": "Trauma", "anxiety": "Anxiety", "grief-and-loss": "Grief and loss", "sleep": "Sleep"}


def therapist(tid: str, name: str | None = None, **fields) -> Therapist:
    """A directory entry with plain defaults; fields override them."""
    values = dict(
        id=tid,
        name=name or tid.replace("-", " ").title(),
        pronouns="they/them",
        credentials="RP",
        bio="Works with adults.",
        modalities=("psychodynamic",),
        specialties=("anxiety",),
        populations=("adults",),
        languages=("English",),
        formats=("online",),
        city="Toronto",
        neighbourhood="",
        accepting_new_clients=True,
        fee=150,
        sliding_scale=False,
        profile_url=f"https://example.org/therapists/{tid}",
    )
    values.update(fields)
    return Therapist(**values)


@pytest.fixture
def directory() -> list[Therapist]:
    return [
        therapist(
            "amara",
            "Amara Okafor",
            specialties=("trauma", "anxiety"),
            languages=("English", "Igbo"),
            formats=("in-person", "online"),
            fee=160,
            modalities=("psychodynamic", "EMDR"),
        ),
        therapist(
            "daniel",
            "Daniel Tremblay",
            specialties=("sleep", "anxiety"),
            languages=("English", "French"),
            accepting_new_clients=False,
            fee=240,
            populations=("adults", "adolescents"),
        ),
        therapist(
            "fatima",
            "Fatima Haddad",
            specialties=("trauma", "grief-and-loss"),
            languages=("English", "Arabic", "French"),
            formats=("in-person",),
            fee=120,
            sliding_scale=True,
        ),
        therapist(
            "li",
            "Li Wei",
            specialties=("grief-and-loss",),
            languages=("Mandarin", "English"),
            fee=90,
            populations=("older adults", "adults"),
        ),
        therapist(
            "maria",
            "Maria Santos",
            specialties=("sleep",),
            languages=("Spanish",),
            fee=200,
            sliding_scale=True,
            populations=("couples",),
        ),
    ]


def ids(therapists) -> list[str]:
    return [t.id for t in therapists]


# TherapistFilters


@pytest.mark.parametrize(
    "filters, expected",
    [
        (TherapistFilters(), ["amara", "daniel", "fatima", "li", "maria"]),
        (TherapistFilters(language="french"), ["daniel", "fatima"]),
        (TherapistFilters(language="FRENCH"), ["daniel", "fatima"]),
        (TherapistFilters(language="Klingon"), []),
        (TherapistFilters(format="in-person"), ["amara", "fatima"]),
        (TherapistFilters(format="online"), ["amara", "daniel", "li", "maria"]),
        (TherapistFilters(accepting=True), ["amara", "fatima", "li", "maria"]),
        (TherapistFilters(max_fee=160), ["amara", "fatima", "li"]),  # at most: 160 is allowed
        (TherapistFilters(max_fee=89), []),
        (TherapistFilters(sliding_scale=True), ["fatima", "maria"]),
        (TherapistFilters(population="older adults"), ["li"]),
        (TherapistFilters(population="adolescents"), ["daniel"]),
        (TherapistFilters(topic="trauma"), ["amara", "fatima"]),
        (TherapistFilters(topic="trauma", language="French"), ["fatima"]),
        (TherapistFilters(topic="sleep", accepting=True, format="online"), ["maria"]),
    ],
)
def test_filters(directory, filters, expected):
    assert ids(t for t in directory if filters.allows(t)) == expected


def test_a_sliding_scale_can_bring_a_higher_fee_within_reach(directory):
    # Asking for a sliding scale and a budget: sliding-scale therapists pass even above the budget; others do not.
    assert ids(t for t in directory if TherapistFilters(max_fee=100, sliding_scale=True).allows(t)) == [
        "fatima",
        "maria",
    ]


def test_filter_therapists_lists_matches_in_name_order(directory):
    shuffled = [directory[i] for i in (4, 2, 0, 3, 1)]
    assert ids(filter_therapists(shuffled, TherapistFilters())) == ["amara", "daniel", "fatima", "li", "maria"]
    assert ids(filter_therapists(shuffled, TherapistFilters(language="english", max_fee=150))) == ["fatima", "li"]


def test_filter_therapists_breaks_name_ties_by_id():
    twins = [therapist("b-2", "Sam Lee"), therapist("a-1", "Sam Lee")]
    assert ids(filter_therapists(twins, TherapistFilters())) == ["a-1", "b-2"]


# match_therapists


def test_ranked_by_how_much_of_the_question_each_therapist_covers(directory):
    scores = [("trauma", 0.6), ("anxiety", 0.4)]
    matches = match_therapists(directory, scores, None, None, k=5)
    # amara covers both; fatima trauma only; daniel anxiety only (and is not accepting); li and maria neither.
    assert ids(matches) == ["amara", "fatima", "daniel", "li", "maria"]
    assert matches[0].score == pytest.approx(TOPIC_WEIGHT * 1.0 + 0.02)
    assert matches[1].score == pytest.approx(TOPIC_WEIGHT * 0.6 + 0.02)
    assert matches[2].score == pytest.approx(TOPIC_WEIGHT * 0.4)
    assert [m.matched_topics for m in matches[:3]] == [["trauma", "anxiety"], ["trauma"], ["anxiety"]]


def test_three_suggestions_span_the_question_s_concerns():
    group = [
        therapist("a1", "Ann", specialties=("trauma",)),
        therapist("a2", "Bea", specialties=("trauma",)),
        therapist("a3", "Cy", specialties=("trauma",)),
        therapist("b1", "Dee", specialties=("sleep",)),
    ]
    scores = [("trauma", 0.6), ("sleep", 0.4)]
    # Without the bonus the three trauma therapists would fill the list; with it the sleep one comes second.
    assert ids(match_therapists(group, scores, None, None)) == ["a1", "b1", "a2"]
    assert ids(match_therapists(group, [("trauma", 1.0)], None, None)) == ["a1", "a2", "a3"]


def test_k_is_three_by_default(directory):
    assert len(match_therapists(directory, [("trauma", 1.0)], None, None)) == 3
    assert len(match_therapists(directory, [("trauma", 1.0)], None, None, k=1)) == 1


def test_profile_similarity_decides_between_equal_coverage():
    pair = [therapist("a", "Ann"), therapist("b", "Bea")]
    query = np.array([1.0, 0.0], dtype=np.float32)
    profiles = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)  # Bea's profile is closer to the question
    matches = match_therapists(pair, [("anxiety", 1.0)], query, profiles)
    assert ids(matches) == ["b", "a"]
    assert matches[0].score - matches[1].score == pytest.approx(PROFILE_WEIGHT * 1.0)


def test_topic_coverage_outweighs_a_closer_profile():
    pair = [therapist("a", "Ann", specialties=("trauma",)), therapist("b", "Bea", specialties=("sleep",))]
    query = np.array([1.0, 0.0], dtype=np.float32)
    profiles = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    assert ids(match_therapists(pair, [("trauma", 1.0)], query, profiles)) == ["a", "b"]


def test_ties_are_broken_by_name_whatever_the_directory_order():
    names = ["Zoe Park", "Ada Brown", "Mia Chen", "Ben Diaz"]
    group = [therapist(f"t{i}", name) for i, name in enumerate(names)]
    for order in (group, group[::-1], group[1:] + group[:1]):
        assert [m.name for m in match_therapists(order, [("anxiety", 1.0)], None, None, k=4)] == [
            "Ada Brown",
            "Ben Diaz",
            "Mia Chen",
            "Zoe Park",
        ]


def test_matching_respects_the_visitor_filters(directory):
    matches = match_therapists(
        directory, [("trauma", 1.0)], None, None, TherapistFilters(language="French", format="in-person")
    )
    assert ids(matches) == ["fatima"]
    assert match_therapists(directory, [("trauma", 1.0)], None, None, TherapistFilters(language="Klingon")) == []


def test_each_match_carries_its_details(directory):
    match = match_therapists(directory, [("trauma", 1.0)], None, None, labels=LABELS)[0]
    amara = directory[0]
    assert (match.id, match.name, match.credentials, match.profile_url) == (
        amara.id,
        amara.name,
        amara.credentials,
        amara.profile_url,
    )
    assert match.specialties == list(amara.specialties)
    assert set(match.to_json()) == {
        "id",
        "name",
        "credentials",
        "specialties",
        "matched_topics",
        "why",
        "profile_url",
        "score",
    }


def test_why_names_topics_modalities_format_and_availability(directory):
    by_id = {
        m.id: m
        for m in match_therapists(
            directory, [("trauma", 0.5), ("anxiety", 0.3), ("grief-and-loss", 0.2)], None, None, labels=LABELS, k=5
        )
    }
    assert (
        by_id["amara"].why == "Works with trauma and anxiety · psychodynamic, EMDR · in-person and online · "
        "accepting new clients"
    )
    assert (
        by_id["fatima"].why == "Works with trauma and grief and loss · psychodynamic · in-person · "
        "accepting new clients · sliding scale"
    )
    assert by_id["daniel"].why.endswith("· online · waitlist only")
    assert "anxiety" in by_id["daniel"].why


def test_why_lists_three_topics_with_commas():
    t = therapist("x", specialties=("trauma", "anxiety", "sleep"))
    assert describe(t, ["trauma", "anxiety", "sleep"], LABELS).startswith("Works with trauma, anxiety and sleep · ")


def test_why_falls_back_to_specialties_when_no_topic_matched():
    t = therapist("x", specialties=("grief-and-loss", "sleep", "trauma"))
    assert describe(t, [], LABELS).startswith("Works with grief and loss and sleep · ")
    assert describe(t, [], {}).startswith("Works with grief and loss and sleep · ")  # ids read as words


def test_matching_does_not_change_the_directory(directory):
    before = [dataclasses.replace(t) for t in directory]
    match_therapists(directory, [("trauma", 1.0)], None, None)
    assert directory == before


def test_self_harm_specialists_are_matched_only_for_a_self_harm_question_or_crisis():
    angry = [("anger", 0.6), ("self-harm-and-suicide", 0.2), ("relationships", 0.1)]
    assert matching_topics(angry, self_harm_crisis=False) == [("anger", 0.6), ("relationships", 0.1)]
    assert matching_topics(angry, self_harm_crisis=True) == angry
    about_self_harm = [("self-harm-and-suicide", 0.7), ("depression", 0.2)]
    assert matching_topics(about_self_harm, self_harm_crisis=False) == about_self_harm
