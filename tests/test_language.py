"""Which language a question is in: plainly English questions skip the language identifier."""

from __future__ import annotations

import json

import pytest

from kb.answering import language
from kb.answering.language import detect_language, plainly_english

from conftest import REPO


@pytest.mark.parametrize(
    "text",
    ["what is transference", "why do I keep choosing people who hurt me?", "How much does therapy cost"],
)
def test_a_plainly_english_question_is_english_without_lingua(text, monkeypatch):
    monkeypatch.setattr(language, "_detector", lambda: pytest.fail("lingua was loaded"))
    assert plainly_english(text)
    assert detect_language(text) == "en"


@pytest.mark.parametrize(
    "text",
    [
        "je suis triste depuis des mois",  # ASCII, but French words
        "chu pu capable, j'en peux pu",
        "Qu'est-ce que le transfert?",
        "what is transference en français",  # mixed: lingua decides
        "kms",  # too short to tell
    ],
)
def test_anything_else_is_left_to_lingua(text):
    assert not plainly_english(text)


def test_french_questions_are_french():
    assert detect_language("je suis triste depuis des mois") == "fr"
    assert detect_language("Qu'est-ce que le transfert en thérapie?") == "fr"


def test_the_shortcut_never_calls_a_french_dev_message_english():
    """The crisis dev split's lang labels (not the frozen test split): no French message takes the shortcut,
    and every message lands on its labelled language."""
    rows = [
        json.loads(line) for line in (REPO / "tests/eval/crisis/dev.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    french = [r["text"] for r in rows if r["lang"] == "fr"]
    assert len(french) > 50
    assert not [t for t in french if plainly_english(t)]
    assert sum(plainly_english(r["text"]) for r in rows) > len(rows) / 2  # it does skip most English ones
    assert [r["id"] for r in rows if detect_language(r["text"]) != r["lang"]] == []
