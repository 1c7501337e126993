"""Rule phrasings added from misses on counsel-chat's train part (our own words, not the questions')."""

from __future__ import annotations

import pytest

from kb.safety.rules import RuleMatcher, normalize

HITS = [  # (message, kind, pattern)
    ("Back in high school I would cut myself, and I really want to do it again", "self-harm", None),
    ("Some nights I'd rather not wake up at all", "suicide", "never-wake"),
    ("I would much rather never wake up than face another week like this", "suicide", "never-wake"),
    ("I keep getting urges to hurt people who annoy me", "harm-others", "urge-to-hurt"),
]
NO_HITS = [
    "I used to cut myself, years ago, and I want to travel again now that I'm well",
    "I'd rather not wake up early on Saturdays",
    "I have urges to eat sugar late at night",
]


@pytest.fixture(scope="module")
def matcher() -> RuleMatcher:
    return RuleMatcher()


@pytest.mark.parametrize("message,kind,name", HITS)
def test_a_wish_not_to_wake_an_urge_to_hurt_and_a_past_wanted_again_are_recognised(matcher, message, kind, name):
    hits = matcher.match(normalize(message)).hits
    assert any(h.kind == kind and (name is None or h.name == name) for h in hits), (message, hits)


@pytest.mark.parametrize("message", NO_HITS)
def test_their_look_alikes_are_not(matcher, message):
    assert matcher.match(normalize(message)).hits == [], message
