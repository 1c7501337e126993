"""The crisis rules' literal prefilter: it skips only patterns that cannot match, so the rules decide the same."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.evaluation.crisis import load_items, split_files
from kb.safety.literals import Prefilter, required_literals
from kb.safety.rules import SENTENCES, RuleMatcher, compiled_rules, normalize

CRISIS_DATA = Path(__file__).parent / "eval" / "crisis"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (r"\bkill (?:my|him)self\b", {"kill "}),  # the longest plain run wins over the alternation
        (r"\b(?:pills|cachets)\b", {"pills", "cachets"}),
        (r"\b(?:want|need) (?:to )?die\b", {"want", "need"}),  # the optional group promises nothing
        (r"\bsh(?:'d|ed)\b", {"sh"}),
        (r"(?:x)+yz", {"yz"}),
        (r"a[bc]d", {"a"}),  # single characters: of equally selective sets, the first is kept
    ],
)
def test_required_literals_are_what_every_match_contains(source, expected):
    assert required_literals(re.compile(source)) == frozenset(expected)


@pytest.mark.parametrize(
    "source",
    [
        r"(?:a|\w+)",  # one alternative promises nothing
        r"x*",  # may match the empty string
        r"(?i)kill",  # case-insensitive: a substring test would miss "KILL"
        r"(?:(?i:kill))",
        r"(?=die)\w",  # a lookahead is not consumed: promise nothing
    ],
)
def test_patterns_that_promise_nothing_always_run(source):
    assert required_literals(re.compile(source)) is None


def test_a_sequence_keeps_a_literal_after_a_class_it_cannot_use():
    assert required_literals(re.compile(r"\w+ing")) == frozenset({"ing"})


def test_the_prefilter_finds_exactly_the_patterns_whose_literals_are_present():
    literals = [frozenset({"kill", "kill my"}), frozenset({"ill"}), None, frozenset({"die", "dies"})]
    prefilter = Prefilter(literals)
    for text in ["i will kill myself", "he dies", "still", "nothing here", "kil", "ki ll", "kill my dog", ""]:
        expected = {i for i, found in enumerate(literals) if found is None or any(s in text for s in found)}
        assert prefilter.runnable(text) == expected, text


@pytest.fixture(scope="module")
def messages() -> list[str]:
    """Every train and dev message, normalised as the rules read it."""
    items = load_items(split_files(CRISIS_DATA, "train")) + load_items(split_files(CRISIS_DATA, "dev"))
    return [normalize(i.text) for i in items]


def test_every_match_in_the_data_contains_one_of_its_patterns_literals(messages):
    """Soundness on every train and dev message: a match without its literal would be a hit the prefilter drops."""
    rules = compiled_rules()
    checked = 0
    for (kind, name, regex, _), literals in zip(rules.patterns, rules.prefilter.literals, strict=True):
        for text in messages:
            for m in regex.finditer(text):
                checked += 1
                assert literals is None or any(s in m.group(0) for s in literals), (kind, name, m.group(0))
    assert checked > 1000  # the data exercises the patterns


def test_rules_decide_the_same_with_and_without_the_prefilter(messages, monkeypatch):
    matcher = RuleMatcher()
    sample = messages[::3]
    sentences = [s for text in sample[:400] for s in SENTENCES.split(text) if s.strip()]
    filtered = [matcher.match(text) for text in sample + sentences]
    every = set(range(len(matcher.rules.patterns)))
    monkeypatch.setattr(Prefilter, "runnable", lambda self, text: every)
    unfiltered = [matcher.match(text) for text in sample + sentences]
    assert filtered == unfiltered
    assert sum(bool(m.hits) for m in filtered) > 300 and sum(bool(m.vetoes) for m in filtered) > 50
