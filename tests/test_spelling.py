"""Spelling: obvious typos become the corpus word they were meant to be; everything else stays as typed."""

from __future__ import annotations

import pytest

from kb.retrieval.spelling import SpellingFixer

# Each word the fixer may correct to appears at least three times (the default min_count).
CORPUS = [
    "Anxiety is common. Talking to a therapist about anxiety can help with the management of anxiety.",
    "A therapist listens. Your therapist may suggest stress management; management takes practice.",
    "The master of a ship may worry. Worry is normal; worry passes. A master and a master again.",
    "Sleep matters. Poor sleep and more sleep. The PDM is a manual.",
]


@pytest.fixture
def fixer() -> SpellingFixer:
    return SpellingFixer(CORPUS)


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("anxeity", "anxiety"),  # two letters swapped
        ("theripist", "therapist"),  # one letter wrong
        ("managment", "management"),  # one letter missing
        ("anxietty", "anxiety"),  # one letter extra
        ("anxeiti", "anxiety"),  # two edits, allowed for a long word
    ],
)
def test_obvious_typos_become_the_corpus_word(fixer, typed, meant):
    assert fixer.fix(typed) == meant


def test_a_question_keeps_its_punctuation_and_spacing(fixer):
    assert (
        fixer.fix("how can my theripist help with anxeity,  stress managment?!")
        == "how can my therapist help with anxiety,  stress management?!"
    )


@pytest.mark.parametrize(
    "word",
    [
        "anxiety",
        "therapist",  # already corpus words
        "slep",  # short words are too ambiguous to correct
        "slaap",  # two edits away, but too short for a second edit
        "Anxeity",  # capitalized: a name or the start of a title, left alone
        "PDMM",  # an acronym
        "hamster",  # the only close corpus word ("master") changes the first letter
        "xyzzyq",  # nothing close at all
    ],
)
def test_other_words_stay_as_typed(fixer, word):
    assert fixer.fix(word) == word


def test_a_word_the_model_knows_stays_even_with_a_close_corpus_word():
    no_dictionary = {"dictionary": lambda w: False}
    assert SpellingFixer(CORPUS, **no_dictionary).fix("wordy") == "worry"
    assert SpellingFixer(CORPUS, is_word=lambda w: w == "wordy", **no_dictionary).fix("wordy") == "wordy"


@pytest.mark.parametrize("word", ["hoarding", "cussing", "faking", "relapse", "stepson", "pervert", "atone"])
def test_a_real_english_word_the_corpus_lacks_is_never_corrected(word):
    # Each was once "corrected" to a corpus word one or two edits away (hoarding -> harming, cussing -> cutting).
    corpus = [f"{w} " * 3 for w in ("harming", "cutting", "facing", "relate", "steps", "perfect", "alone")]
    assert SpellingFixer(corpus).fix(word) == word
    assert SpellingFixer(corpus, dictionary=lambda w: False).fix(word) != word  # without the word list, it would be


def test_rare_corpus_words_are_not_used_as_corrections_but_are_not_corrected_either():
    fixer = SpellingFixer(["Resilience grows. Resilience again."])  # twice: under min_count=3
    assert fixer.fix("resilence") == "resilence"
    assert fixer.fix("resilience") == "resilience"
    assert SpellingFixer(["Resilience grows. Resilience again."], min_count=2).fix("resilence") == "resilience"


def test_the_most_frequent_close_word_wins():
    fixer = SpellingFixer(["grieve " * 3 + "grieves " * 5])
    assert fixer.fix("grievs") == "grieves"
