"""The crisis data set: honest splits, a frozen test split, and a shipped model trained on the current data."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from kb.safety import normalize
from kb.safety.classifier import CALIBRATION_FILE, KIND_LABELS
from kb.safety.training import data_hash, load_items, split_files

FOLDER = Path(__file__).parent / "eval" / "crisis"
FROZEN_TEST_SHA256 = "a3fbcbb42ee3eea6a15a920c3a5a312db07e00669c552519dc214db49265f5cc"


@pytest.fixture(scope="module")
def splits():
    return {split: load_items(split_files(FOLDER, split)) for split in ("train", "dev", "test")}


def test_the_test_split_is_frozen():
    digest = hashlib.sha256((FOLDER / "test.jsonl").read_bytes()).hexdigest()
    assert digest == FROZEN_TEST_SHA256, "tests/eval/crisis/test.jsonl changed: the test split is frozen"


def test_there_are_enough_messages_of_both_classes(splits):
    assert sum(len(items) for items in splits.values()) >= 2000
    for split, items in splits.items():
        counts = Counter(i.crisis for i in items)
        assert counts[True] >= 0.4 * len(items) and counts[False] >= 0.4 * len(items), split


def test_every_split_has_every_kind_tier_and_language(splits):
    for split, items in splits.items():
        assert {i.kind for i in items if i.crisis} == set(KIND_LABELS), split
        assert {i.tier for i in items} == {"urgent", "concern", "none"}, split
        assert {i.lang for i in items} == {"en", "fr"}, split


def test_no_test_message_appears_in_train_or_dev(splits):
    seen = {normalize(i.text) for split in ("train", "dev") for i in splits[split]}
    assert not [i.id for i in splits["test"] if normalize(i.text) in seen]


def test_ids_are_unique_across_splits(splits):
    ids = [i.id for items in splits.values() for i in items]
    assert len(ids) == len(set(ids))


def test_the_shipped_model_was_trained_on_the_current_train_and_dev_files():
    calibration = json.loads((Path(__file__).parents[1] / "kb" / "data" / CALIBRATION_FILE).read_text())
    assert calibration["train"]["hash"] == data_hash(split_files(FOLDER, "train")), "run `kb crisis train`"
    assert calibration["dev"]["hash"] == data_hash(split_files(FOLDER, "dev")), "run `kb crisis train`"
    assert "test" not in json.dumps(calibration["train"]) + json.dumps(calibration["dev"])


def test_a_bad_line_is_one_error_naming_the_file_and_field(tmp_path):
    from kb.errors import InputError

    bad = tmp_path / "dev.jsonl"
    bad.write_text(
        json.dumps(
            {
                "id": "x",
                "text": "hi",
                "crisis": True,
                "tier": "none",
                "kind": "suicide",
                "about_someone_else": False,
                "lang": "en",
                "style": "plain",
            }
        )
        + "\n"
    )
    with pytest.raises(InputError, match=r"dev.jsonl:1: field 'tier'"):
        load_items([bad])


def test_real_questions_follow_the_readers_labels_and_hold_no_question_text(tmp_path):
    from kb.evaluation.answers import counsel_chat_part
    from kb.evaluation.counsel_chat import real_questions

    ids = [i for i in (f"cc-{n:04d}" for n in range(40)) if counsel_chat_part(i) == "train"][:3]
    data = tmp_path / "train.jsonl"
    data.write_text(
        "\n".join(json.dumps({"id": i, "title": f"Question {i}", "text": "I want to die."}) for i in ids) + "\n"
    )
    labels = tmp_path / "labels.jsonl"
    rows = [
        {"id": ids[0], "crisis": True, "tier": "concern", "kind": "suicide", "about_someone_else": False},
        {"id": ids[1], "crisis": False, "tier": "none", "kind": None, "about_someone_else": False},
    ]
    labels.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ordinary, crises = real_questions(data, labels)
    assert [c.id for c in crises] == [f"real-{ids[0]}"] and crises[0].tier == "concern"
    assert ordinary == [f"Question {ids[1]}. I want to die"]  # labelled ordinary; the unlabelled one has a pattern
    for name in ("real-labels.jsonl", "real-labels-heldout.jsonl"):
        for line in (FOLDER / name).read_text().splitlines():
            assert set(json.loads(line)) == {"id", "crisis", "tier", "kind", "about_someone_else"}
