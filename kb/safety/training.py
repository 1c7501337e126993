"""`kb crisis train`: fit the crisis classifier on the train split, calibrate it on dev, never look at test.

Writes kb/data/crisis_model.npz (weights) and kb/data/crisis_model.json (thresholds, data hashes and the
train and dev figures). The test split is read only by `kb eval --dataset crisis`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.errors import InputError
from kb.safety.classifier import HEADS, KIND_LABELS
from kb.safety.features import BUCKETS, RULE_FEATURES, char_ngrams, rule_features, tfidf
from kb.safety.rules import RuleMatcher, normalize

SPLITS = ("train", "dev", "test")
FIELDS = ("id", "text", "crisis", "tier", "kind", "about_someone_else", "lang", "style")
RULE_SCALE = 1.0
EMBEDDING_SCALE = 1.0
TARGET_RECALL = 0.985  # on dev: thresholds are the highest that keep this recall
MAX_FALSE_ALARMS = 0.04  # on dev near misses, when the recall target allows it
URGENT_RECALL = 0.97  # on dev urgent items: the urgent threshold keeps this share tiered urgent


@dataclass(frozen=True)
class CrisisItem:
    """One labelled message of the crisis data set."""

    id: str
    text: str
    crisis: bool
    tier: str
    kind: str | None
    about_someone_else: bool
    lang: str
    style: str


def split_files(folder: Path, split: str) -> list[Path]:
    """The files of a split: `train*.jsonl` for train, `dev.jsonl`, `test.jsonl`."""
    return sorted(folder.glob(f"{split}*.jsonl")) if split == "train" else [folder / f"{split}.jsonl"]


def load_items(paths: Sequence[Path]) -> list[CrisisItem]:
    """Items from JSON Lines files; a bad line is one error naming the file, line and field."""
    items = []
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: missing crisis data file; see tests/eval/crisis/README.md")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                item = CrisisItem(**{key: row[key] for key in FIELDS})
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(f"{path}:{number}: not a crisis item ({exc})") from None
            if item.tier not in ("urgent", "concern", "none") or (item.tier == "none") == item.crisis:
                raise InputError(f"{path}:{number}: field 'tier' must be urgent or concern for a crisis, none otherwise")
            if item.crisis and item.kind not in KIND_LABELS:
                raise InputError(f"{path}:{number}: field 'kind' must be one of {', '.join(KIND_LABELS)}")
            items.append(item)
    return items


def data_hash(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class Features:
    """Character n-grams (as a sparse matrix), rule verdicts and embeddings of a list of texts."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray | None, idf: np.ndarray | None = None):
        from scipy import sparse

        matcher = RuleMatcher()
        cleans = [normalize(t) for t in texts]
        self.counts = [char_ngrams(c) for c in cleans]
        self.rules = np.stack([rule_features(matcher.match(c)) for c in cleans]) * RULE_SCALE
        self.idf = idf if idf is not None else self._idf(self.counts)
        rows, cols, values = [], [], []
        for row, counts in enumerate(self.counts):
            buckets, weights = tfidf(counts, self.idf)
            rows += [row] * len(buckets)
            cols += buckets.tolist()
            values += weights.tolist()
        self.char = sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), BUCKETS), dtype=np.float32)
        self.vectors = vectors

    @staticmethod
    def _idf(counts: list[dict[int, float]]) -> np.ndarray:
        df = np.zeros(BUCKETS, dtype=np.float32)
        for row in counts:
            df[list(row)] += 1
        return (np.log((1 + len(counts)) / (1 + df)) + 1).astype(np.float32)

    def matrix(self, full: bool):
        from scipy import sparse

        blocks = [self.char, sparse.csr_matrix(self.rules)]
        if full:
            blocks.append(sparse.csr_matrix(self.vectors * EMBEDDING_SCALE))
        return sparse.hstack(blocks, format="csr")


def _fit(x, y, c: float, multinomial: bool = False):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    return model.fit(x, y)


def train_variant(features: Features, items: Sequence[CrisisItem], full: bool, c: float) -> dict[str, np.ndarray]:
    """Weights of every head for one variant, as arrays [features, columns] split by block."""
    x = features.matrix(full)
    crisis = np.array([i.crisis for i in items])
    positives = np.flatnonzero(crisis)
    columns = []
    biases = []
    for head in HEADS:
        if head == "crisis":
            model = _fit(x, crisis.astype(int), c)
        else:
            labels = np.array([i.tier == "urgent" if head == "urgent" else i.about_someone_else for i in items])
            model = _fit(x[positives], labels[positives].astype(int), c)
        columns.append(model.coef_[0])
        biases.append(model.intercept_[0])
    kinds = np.array([KIND_LABELS.index(i.kind) for i in items if i.crisis])
    model = _fit(x[positives], kinds, c, multinomial=True)
    coef = np.zeros((len(KIND_LABELS), x.shape[1]))
    bias = np.full(len(KIND_LABELS), -30.0)  # a kind absent from training is never predicted
    coef[model.classes_] = model.coef_
    bias[model.classes_] = model.intercept_
    weights = np.concatenate([np.stack(columns), coef]).T.astype(np.float32)  # [features, columns]
    rule_end = BUCKETS + len(RULE_FEATURES)
    char = weights[:BUCKETS]
    rows = np.flatnonzero(np.abs(char).sum(axis=1) > 0).astype(np.int32)
    name = "full" if full else "text"
    arrays = {f"{name}_char_rows": rows, f"{name}_char_weights": char[rows],
              f"{name}_rules": weights[BUCKETS:rule_end],
              f"{name}_bias": np.concatenate([biases, bias]).astype(np.float32)}
    if full:
        arrays[f"{name}_embedding"] = weights[rule_end:]
    return arrays


def pick_threshold(scores: np.ndarray, crisis: np.ndarray, target: float = TARGET_RECALL,
                   max_false_alarms: float = MAX_FALSE_ALARMS) -> float:
    """The highest threshold whose recall meets the target; lower only while false alarms stay allowed."""
    candidates = np.unique(np.concatenate([scores, [0.5]]))[::-1]
    chosen = float(candidates[-1])
    for t in candidates:
        recall = float((scores[crisis] >= t).mean()) if crisis.any() else 1.0
        alarms = float((scores[~crisis] >= t).mean()) if (~crisis).any() else 0.0
        if recall >= target:
            return float(t)
        if alarms > max_false_alarms:
            return float(chosen)
        chosen = float(t)
    return chosen


def train_classifier(folder: Path, embed: Callable[[list[str]], np.ndarray], out: Path, c: float = 4.0,
                     log: Callable[[str], None] = print) -> dict:
    """Fit on train, calibrate on dev, write the model files into `out`; returns the calibration."""
    from kb.safety.classifier import CALIBRATION_FILE, MODEL_FILE, CrisisClassifier
    from kb.safety.detector import CrisisDetector
    from kb.config import Settings

    train_paths, dev_paths = split_files(folder, "train"), split_files(folder, "dev")
    train, dev = load_items(train_paths), load_items(dev_paths)
    log(f"train: {len(train)} items from {len(train_paths)} files; dev: {len(dev)} items")
    features = Features([i.text for i in train], embed([i.text for i in train]))
    arrays = {"idf": features.idf}
    for full in (True, False):
        arrays.update(train_variant(features, train, full, c))
    calibration = {"rule_features": list(RULE_FEATURES), "rule_scale": RULE_SCALE, "embedding_scale": EMBEDDING_SCALE,
                   "c": c, "thresholds": {"whole": 0.5, "text": 0.5, "sentence": 0.9, "urgent": 0.5},
                   "train": {"files": [p.name for p in train_paths], "items": len(train), "hash": data_hash(train_paths)},
                   "dev": {"files": [p.name for p in dev_paths], "items": len(dev), "hash": data_hash(dev_paths)}}
    classifier = CrisisClassifier(arrays, calibration)
    calibration["thresholds"] = calibrate(classifier, dev, embed([i.text for i in dev]))
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / MODEL_FILE, **arrays)
    (out / CALIBRATION_FILE).write_text(json.dumps(calibration, indent=2) + "\n", encoding="utf-8")
    log(f"thresholds from dev: {calibration['thresholds']}")
    del CrisisDetector, Settings
    return calibration


def calibrate(classifier, dev: Sequence[CrisisItem], vectors: np.ndarray) -> dict[str, float]:
    """Thresholds chosen on dev only: whole message (with and without the embedding), sentences, urgency."""
    from kb.safety.detector import SENTENCES, MIN_SENTENCE_WORDS

    matcher = RuleMatcher()
    crisis = np.array([i.crisis for i in dev])
    whole, text, sentence, urgent = [], [], [], []
    for item, vector in zip(dev, vectors, strict=True):
        clean = normalize(item.text)
        match = matcher.match(clean)
        full = classifier.scores(clean, match, vector)
        whole.append(full.crisis)
        urgent.append(full.urgent)
        text.append(classifier.scores(clean, match).crisis)
        pieces = [s.strip() for s in SENTENCES.split(clean) if len(s.split()) >= MIN_SENTENCE_WORDS]
        sentence.append(max((classifier.scores(p, matcher.match(p)).crisis for p in pieces), default=0.0)
                        if len(pieces) >= 2 else 0.0)
    whole_t = pick_threshold(np.array(whole), crisis)
    text_t = pick_threshold(np.array(text), crisis)
    # A sentence alone is a second chance for long messages: it may add no more than 1% false alarms.
    missed = crisis & (np.array(whole) < whole_t)
    sentence_scores = np.array(sentence)
    near = sentence_scores[~crisis & (np.array(whole) < whole_t)]
    sentence_t = float(np.quantile(near, 0.99)) + 1e-6 if len(near) else 0.9
    sentence_t = max(sentence_t, 0.5)
    del missed
    is_urgent = np.array([i.tier == "urgent" for i in dev])
    urgent_scores = np.array(urgent)[is_urgent]
    urgent_t = float(np.quantile(urgent_scores, 1 - URGENT_RECALL)) if len(urgent_scores) else 0.5
    return {"whole": round(whole_t, 6), "text": round(text_t, 6), "sentence": round(sentence_t, 6),
            "urgent": round(min(urgent_t, 0.5), 6)}
