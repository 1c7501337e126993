"""Crisis detection measured on the golden questions: recall on crises, false alarms elsewhere."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping

from kb.safety.detector import CrisisDetector


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def evaluate_crisis(detector: CrisisDetector, items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Recall (overall, per crisis_type, explicit) and false-positive rates, from golden items.

    items: mappings with `question`, `kind` (crisis | near-miss | answerable | off-topic) and, for
    crises, `crisis_type`. The report names missed crises and false alarms by id, never by text.
    """
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # group -> [detected, total]
    missed: list[str] = []
    false_alarms: list[str] = []
    for n, item in enumerate(items, 1):
        kind = str(item.get("kind", ""))
        detected = detector.detect(str(item.get("question", ""))).detected
        groups = ["crisis", f"type:{item.get('crisis_type') or 'unspecified'}"] if kind == "crisis" else [kind]
        for group in groups:
            found[group][0] += detected
            found[group][1] += 1
        item_id = str(item.get("id", f"#{n}"))
        if kind == "crisis" and not detected:
            missed.append(item_id)
        elif kind != "crisis" and detected:
            false_alarms.append(item_id)
    other = [found[k] for k in ("answerable", "off-topic")]
    return {
        "recall": _rate(*found["crisis"]),
        "recall_by_type": {group[5:]: _rate(*counts) for group, counts in sorted(found.items())
                           if group.startswith("type:")},
        "explicit_recall": _rate(*found["type:explicit"]),
        "near_miss_false_positive_rate": _rate(*found["near-miss"]),
        "other_false_positive_rate": _rate(sum(d for d, _ in other), sum(t for _, t in other)),
        "crisis_items": found["crisis"][1],
        "near_miss_items": found["near-miss"][1],
        "missed": missed,
        "false_alarms": false_alarms,
    }
