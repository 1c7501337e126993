"""The off-topic question set: a frozen test split, and no question shared between splits."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FOLDER = Path(__file__).parent / "eval" / "off_topic"
FROZEN_TEST_SHA256 = "3920561e16b121f8aa55deb62ab93479cc77a5d9bf45d2133827d48821f95bda"


def read(split: str) -> list[dict]:
    return [json.loads(line) for line in (FOLDER / f"{split}.jsonl").read_text(encoding="utf-8").splitlines() if line]


def test_the_test_split_is_frozen():
    digest = hashlib.sha256((FOLDER / "test.jsonl").read_bytes()).hexdigest()
    assert digest == FROZEN_TEST_SHA256, "tests/eval/off_topic/test.jsonl changed: the test split is frozen"


def test_each_split_has_fifty_questions_with_ids():
    for split in ("train", "dev", "test"):
        rows = read(split)
        assert len(rows) == 50, split
        assert all(r["id"].startswith(f"ot-{split}-") and r["question"].strip() for r in rows), split


def test_no_question_is_in_two_splits():
    seen: dict[str, str] = {}
    for split in ("train", "dev", "test"):
        for row in read(split):
            key = " ".join(row["question"].lower().split())
            assert key not in seen, f"{row['id']} repeats a question of {seen.get(key)}"
            seen[key] = split
