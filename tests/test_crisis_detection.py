"""The crisis detector as served (rules, classifier and the real model's embedding) on the issue's examples,
and the regression floor on the frozen test split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kb.config import Settings
from kb.evaluation.crisis import evaluate_splits
from kb.safety import CrisisDetector
from kb.safety.classifier import CALIBRATION_FILE, MODEL_FILE, load_classifier, read_classifier
from kb.safety.training import _scores, load_items, panel_shown, split_files

pytestmark = pytest.mark.slow

FOLDER = Path(__file__).parent / "eval" / "crisis"
DATA = Path(__file__).parents[1] / "kb" / "data"

# The messages issue 10 says are missed or misread today (made up for the issue, not from any split).
EXAMPLES = [  # (message, tier, kind or None for any)
    ("the pills are on the table in front of me", "urgent", None),
    ("standing on the top level of the parking garage and not coming down", "urgent", None),
    ("I finally got what I need to do it", "urgent", None),
    ("my brother took something and I can't wake him up", "urgent", "medical"),
    ("thinkin bout killin myself alot", "concern", "suicide"),
    ("j'ai pu envie de continuer", "concern", "suicide"),
    ("chu pu capable, j'veux que ça finisse", "concern", "suicide"),
    ("my stepdad said I'll regret it if I tell my teacher what he does", None, "child-safety"),
    ("I cannot stand it anymore, I'm done", "concern", "suicide"),
    ("I keep doing stupid things to myself when I'm upset, like hurting my arms", "concern", "self-harm"),
    # Kinds a blind read of real questions found missed (our own words, not theirs).
    ("honestly I don't even care if I live or die anymore, what's the point of talking", None, "suicide"),
    ("I've been stockpiling my sleeping pills and I told no one", None, "suicide"),
    (
        "Hi, I wanted to ask how much a session costs and whether my insurance through work covers it. Also do "
        "you have evening appointments? I work until six most days. Honestly it probably doesn't matter, I've "
        "decided I'm ending it this weekend.",
        "urgent",
        "suicide",
    ),
]
# A short message saying outright that the writer wants to die has no context the classifier could read as
# something else, so it cannot veto the pattern.
SHORT = ["je veux mourir", "Ma vie est finie... je veux juste mourir", "i want to die", "I want to hurt myself"]
# An overdose told in a few words, and home said to be unsafe in words that contain a negation themselves.
SHORT_OTHER = [
    ("i overdosed", "medical"),
    ("not safe at home but I can't leave yet", "violence"),
    ("i dont feel safe at home", "violence"),
    ("je me sens pas en sécurité chez nous", "violence"),
]
NOT_CRISES = [
    "I had an attempt years ago and I'm well now",
    "I'm safe and not going to hurt myself, I just feel flat",
    "My friend and I ran suicides at basketball practice and I'm so sore",
    "This traffic is killing me",
    "I'd kill for a full night of sleep, my mind never switches off",
    "I'm scared to death of driving on the 401 and it's getting worse",
]


@pytest.fixture(scope="module")
def model(real_model):
    return real_model


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return CrisisDetector(Settings())


@pytest.mark.parametrize("message,tier,kind", EXAMPLES)
def test_the_issue_examples_get_the_right_tier_first(detector, model, message, tier, kind):
    crisis = detector.detect(message, model.embed([message])[0])
    assert crisis.detected, message
    if tier:
        assert crisis.tier == tier, (message, crisis.tier, crisis.reason)
    if kind:
        assert crisis.kind == kind, (message, crisis.kind)


@pytest.mark.parametrize("message", NOT_CRISES)
def test_resolved_pasts_negations_and_idioms_do_not_alarm(detector, model, message):
    assert not detector.detect(message, model.embed([message])[0]).detected, message


@pytest.mark.parametrize("message", SHORT)
def test_a_short_plain_statement_is_never_vetoed(detector, model, message):
    crisis = detector.detect(message, model.embed([message])[0])
    assert crisis.detected and crisis.kind in ("suicide", "self-harm"), (message, crisis.reason)


@pytest.mark.parametrize("message,kind", SHORT_OTHER)
def test_a_short_overdose_or_an_unsafe_home_is_not_vetoed(detector, model, message, kind):
    crisis = detector.detect(message, model.embed([message])[0])
    assert crisis.detected and crisis.kind == kind, (message, crisis.reason)


def test_the_frozen_test_split_holds_its_floor(model):
    """A regression floor a little below the measured figures (see README), not a target tuned on test."""
    report = evaluate_splits(FOLDER, Settings(), model.embed, splits=("test",))
    served = report["splits"]["test"]["served"]
    assert served["recall"] >= 0.90, served["missed"]
    assert served["urgent_recall"] >= 0.89, served["missed"]
    assert served["near_miss_false_alarm_rate"] <= 0.06, served["false_alarms"]


@pytest.fixture(scope="module")
def dev_sample(model):
    """A fifth of dev with the real model's vectors."""
    items = load_items(split_files(FOLDER, "dev"))[::5]
    return items, model.embed([i.text for i in items])


@pytest.mark.parametrize("changed", [{}, {"veto": 0.7, "whole": 0.5, "sentence": 0.9}])
def test_thresholds_are_chosen_on_the_decision_the_detector_makes(dev_sample, changed, tmp_path):
    """calibrate() picks thresholds by simulating detect() on dev; the simulation must be detect() itself, or
    the false alarms it bounds are not the ones visitors get (the shipped thresholds, and a set where a
    pattern's veto is stricter than the whole message's threshold)."""
    shipped = load_classifier()
    thresholds = {**shipped.calibration["thresholds"], **changed}
    for name in (MODEL_FILE, CALIBRATION_FILE):
        (tmp_path / name).write_bytes((DATA / name).read_bytes())
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps({**shipped.calibration, "thresholds": thresholds}))
    classifier = read_classifier(tmp_path)
    detector = CrisisDetector(Settings(), classifier=classifier)
    items, vectors = dev_sample
    whole, _, sentence, hit, plain, _, _ = _scores(classifier, [i.text for i in items], vectors)
    t = thresholds
    simulated = panel_shown(whole, sentence, hit, plain, t["whole"], t["sentence"], t["veto"])
    served = np.array([detector.detect(i.text, v).detected for i, v in zip(items, vectors, strict=True)])
    assert served.sum() > 100 and (~served).sum() > 100
    assert [i.id for i, a, b in zip(items, simulated, served, strict=True) if a != b] == []
