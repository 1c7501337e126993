"""Crisis detection measured: on the crisis data set's train, dev and frozen test splits, and on golden items.

Reports name items by id, never by text. The test split is only ever read here: nothing is tuned on it.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kb.records import Crisis
from kb.safety.detector import CrisisDetector
from kb.safety.training import SPLITS, CrisisItem, load_items, split_files

TIERS = ("urgent", "concern", "none")
TARGETS = {"recall": 0.97, "urgent_recall": 1.0, "french_recall": 0.95, "near_miss_false_alarm_rate": 0.05}


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def evaluate_items(items: Sequence[CrisisItem], results: Sequence[Crisis]) -> dict[str, Any]:
    """Recall overall, on urgent, on French; false alarms on near misses; tier confusion; by style and kind."""
    crises = [(i, r) for i, r in zip(items, results, strict=True) if i.crisis]
    near = [(i, r) for i, r in zip(items, results, strict=True) if not i.crisis]
    urgent = [(i, r) for i, r in crises if i.tier == "urgent"]
    french = [(i, r) for i, r in crises if i.lang == "fr"]
    confusion = {true: dict.fromkeys(TIERS, 0) for true in TIERS}
    for item, result in zip(items, results, strict=True):
        confusion[item.tier][result.tier if result.detected else "none"] += 1
    by_style: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item, result in zip(items, results, strict=True):
        by_style[f"{'crisis' if item.crisis else 'near-miss'}:{item.style}"][0] += result.detected == item.crisis
        by_style[f"{'crisis' if item.crisis else 'near-miss'}:{item.style}"][1] += 1
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item, result in crises:
        by_kind[str(item.kind)][0] += result.detected
        by_kind[str(item.kind)][1] += 1
    detected = [(i, r) for i, r in crises if r.detected]
    return {
        "items": len(items),
        "crisis_items": len(crises),
        "near_miss_items": len(near),
        "recall": _rate(sum(r.detected for _, r in crises), len(crises)),
        "urgent_recall": _rate(sum(r.detected for _, r in urgent), len(urgent)),
        "urgent_tiered_urgent": _rate(sum(r.detected and r.tier == "urgent" for _, r in urgent), len(urgent)),
        "french_recall": _rate(sum(r.detected for _, r in french), len(french)),
        "near_miss_false_alarm_rate": _rate(sum(r.detected for _, r in near), len(near)),
        "kind_accuracy": _rate(sum(r.kind == i.kind for i, r in detected), len(detected)),
        "someone_else_accuracy": _rate(
            sum(r.about_someone_else == i.about_someone_else for i, r in detected), len(detected)
        ),
        "tier_confusion": confusion,
        "by_kind": {k: f"{d}/{n}" for k, (d, n) in sorted(by_kind.items())},
        "by_style": {k: f"{d}/{n}" for k, (d, n) in sorted(by_style.items())},
        "missed": [i.id for i, r in crises if not r.detected],
        "false_alarms": [i.id for i, r in near if r.detected],
    }


def evaluate_splits(
    folder: Path, settings, embed: Callable[[list[str]], np.ndarray] | None, splits: Sequence[str] = SPLITS
) -> dict[str, Any]:
    """Every split with the embedding (as served) and without it (the fail-safe path), plus latency."""
    detector = CrisisDetector(settings)
    report: dict[str, Any] = {"targets": TARGETS, "splits": {}}
    latencies: list[float] = []
    for split in splits:
        paths = split_files(folder, split)
        if not paths or not all(p.is_file() for p in paths):
            continue
        items = load_items(paths)
        vectors = embed([i.text for i in items]) if embed is not None else [None] * len(items)
        served = []
        for item, vector in zip(items, vectors, strict=True):
            started = time.perf_counter()
            served.append(detector.detect(item.text, vector))
            latencies.append(time.perf_counter() - started)
        entry = {"files": [p.name for p in paths], "served": evaluate_items(items, served)}
        entry["without_model"] = _summary(evaluate_items(items, [detector.detect(i.text) for i in items]))
        report["splits"][split] = entry
    if latencies:
        report["latency_ms"] = {
            "median": round(1000 * float(np.median(latencies)), 3),
            "p95": round(1000 * float(np.percentile(latencies, 95)), 3),
            "note": "per message, embedding reused (not included)",
        }
    return report


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    keys = ("recall", "urgent_recall", "french_recall", "near_miss_false_alarm_rate")
    return {key: result[key] for key in keys}


def crisis_markdown(report: dict[str, Any]) -> str:
    """The crisis report: one table of the splits, the targets, then each split's confusion table."""
    lines = [
        "# Crisis detection",
        "",
        "Test split written by a different writer, frozen before tuning; thresholds chosen on dev only.",
        "",
        "| split | items | recall | urgent recall | urgent tiered urgent | French recall | near-miss false "
        "alarms | without the model: recall / false alarms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for split, entry in report["splits"].items():
        s, w = entry["served"], entry["without_model"]
        lines.append(
            f"| {split} | {s['items']} | {s['recall']} | {s['urgent_recall']} | {s['urgent_tiered_urgent']} | "
            f"{s['french_recall']} | {s['near_miss_false_alarm_rate']} | {w['recall']} / "
            f"{w['near_miss_false_alarm_rate']} |"
        )
    lines += [
        "",
        "Targets (test): "
        + ", ".join(f"{k} {'>=' if 'alarm' not in k else '<='} {v}" for k, v in report["targets"].items()),
        "",
    ]
    for part, r in report.get("real", {}).items():
        lines.append(
            f"Real questions (counsel-chat {part} part, labelled by a reader): crises detected {r['detected']} of "
            f"{r['crises']}, ordinary questions given the panel {r['alarmed']} of {r['ordinary']}."
        )
    if report.get("real"):
        lines.append("")
    if "latency_ms" in report:
        lat = report["latency_ms"]
        lines += [f"Detector latency, embedding reused: median {lat['median']} ms, p95 {lat['p95']} ms.", ""]
    for split, entry in report["splits"].items():
        s = entry["served"]
        lines += [
            f"## {split}: tiers (rows: labelled, columns: shown)",
            "",
            "| | urgent | concern | none |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {true} | " + " | ".join(str(s["tier_confusion"][true][p]) for p in TIERS) + " |" for true in TIERS
        ]
        lines += [
            "",
            f"By kind (detected/total): {s['by_kind']}",
            "",
            f"Kind right when detected: {s['kind_accuracy']}; who it is about right: {s['someone_else_accuracy']}",
            "",
            "By style (right/total):",
            "",
        ]
        lines += [f"- {k}: {v}" for k, v in s["by_style"].items()]
        lines += [
            "",
            f"Missed: {', '.join(s['missed']) or 'none'}",
            f"False alarms: {', '.join(s['false_alarms']) or 'none'}",
            "",
        ]
    return "\n".join(lines)


def evaluate_crisis(detect: Callable[[str], Crisis], items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Golden items: recall (overall, per crisis_type, explicit) and false-positive rates, by id."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # group -> [detected, total]
    missed: list[str] = []
    false_alarms: list[str] = []
    tiers: Counter[str] = Counter()
    for n, item in enumerate(items, 1):
        kind = str(item.get("kind", ""))
        crisis = detect(str(item.get("question", "")))
        detected = crisis.detected
        groups = ["crisis", f"type:{item.get('crisis_type') or 'unspecified'}"] if kind == "crisis" else [kind]
        for group in groups:
            found[group][0] += detected
            found[group][1] += 1
        if kind == "crisis":
            tiers[crisis.tier] += 1
        item_id = str(item.get("id", f"#{n}"))
        if kind == "crisis" and not detected:
            missed.append(item_id)
        elif kind != "crisis" and detected:
            false_alarms.append(item_id)
    other = [found[k] for k in ("answerable", "off-topic")]
    return {
        "recall": _rate(*found["crisis"]),
        "recall_by_type": {
            group[5:]: _rate(*counts) for group, counts in sorted(found.items()) if group.startswith("type:")
        },
        "explicit_recall": _rate(*found["type:explicit"]),
        "tiers_shown": dict(tiers),
        "near_miss_false_positive_rate": _rate(*found["near-miss"]),
        "other_false_positive_rate": _rate(sum(d for d, _ in other), sum(t for _, t in other)),
        "crisis_items": found["crisis"][1],
        "near_miss_items": found["near-miss"][1],
        "missed": missed,
        "false_alarms": false_alarms,
    }


def bench_crisis(settings, embed: Callable[[list[str]], np.ndarray], folder: Path, repeats: int = 3) -> dict[str, Any]:
    """Detector latency per message with the embedding reused, beside the encoder's time for one message."""
    items = load_items(split_files(folder, "dev"))
    texts = [i.text for i in items]
    vectors = embed(texts)
    detector = CrisisDetector(settings)
    detector.detect(texts[0], vectors[0])  # warm caches
    timings = []
    for _ in range(repeats):
        for text, vector in zip(texts, vectors, strict=True):
            started = time.perf_counter()
            detector.detect(text, vector)
            timings.append(time.perf_counter() - started)
    encoder = []
    for text in texts[:50]:
        started = time.perf_counter()
        embed([text])
        encoder.append(time.perf_counter() - started)
    return {
        "messages": len(texts) * repeats,
        "detector_median_ms": round(1000 * float(np.median(timings)), 3),
        "detector_p95_ms": round(1000 * float(np.percentile(timings, 95)), 3),
        "floor_encoder_one_message_median_ms": round(1000 * float(np.median(encoder)), 3),
        "target_ms": 5.0,
    }
