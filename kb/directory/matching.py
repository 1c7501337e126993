"""Therapists for a question: specialties that cover its topics, a profile close in meaning, the visitor's filters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kb.directory.therapists import Therapist
from kb.records import TherapistMatch

TOPIC_WEIGHT = 0.7
PROFILE_WEIGHT = 0.3
# A therapist who works with one of the question's topics that the ones already chosen do not cover ranks this much
# higher, so three suggestions span the question's concerns instead of three for its first (counsel-chat train
# part, top 3 with a specialist in the question's labelled concern, for 0 / 0.05 / 0.1 / 0.2 / 0.3 / 0.5 / 1.0:
# 0.870 / 0.876 / 0.889 / 0.904 / 0.908 / 0.908 / 0.908; the smallest of the best).
DIVERSITY = 0.3


@dataclass(frozen=True)
class TherapistFilters:
    """What a visitor can ask for; None means no preference."""

    topic: str | None = None
    language: str | None = None
    format: str | None = None  # online | in-person
    accepting: bool = False
    max_fee: int | None = None
    sliding_scale: bool = False
    population: str | None = None

    def allows(self, t: Therapist) -> bool:
        """Whether a therapist passes every filter (fee: at most max_fee, or a sliding scale when asked)."""
        if self.topic and self.topic not in t.specialties:
            return False
        if self.language and self.language.lower() not in {x.lower() for x in t.languages}:
            return False
        if self.format and self.format not in t.formats:
            return False
        if self.accepting and not t.accepting_new_clients:
            return False
        if self.population and self.population not in t.populations:
            return False
        fee_ok = self.max_fee is None or t.fee <= self.max_fee
        if self.sliding_scale:
            return t.sliding_scale and (fee_ok or self.max_fee is not None)
        return fee_ok


def filter_therapists(therapists: list[Therapist], filters: TherapistFilters) -> list[Therapist]:
    """The directory under the filters, in name order."""
    return sorted((t for t in therapists if filters.allows(t)), key=lambda t: (t.name, t.id))


def _in_sentence(label: str) -> str:
    """A label as it reads mid-sentence: "Grief and loss" -> "grief and loss", "2SLGBTQ+ lives" unchanged."""
    first = label.split(" ", 1)[0]
    return label if first.isupper() or any(c.isdigit() for c in first) else label[0].lower() + label[1:]


def describe(t: Therapist, matched: list[str], labels: dict[str, str]) -> str:
    """One line saying why a therapist fits: topics · modalities · format · availability."""
    names = [_in_sentence(labels.get(m, m.replace("-", " "))) for m in matched] or [
        _in_sentence(labels.get(s, s.replace("-", " "))) for s in t.specialties[:2]
    ]
    listed = " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]
    parts = [
        f"Works with {listed}",
        ", ".join(t.modalities[:3]),
        " and ".join(t.formats),
        "accepting new clients" if t.accepting_new_clients else "waitlist only",
    ]
    if t.sliding_scale:
        parts.append("sliding scale")
    return " · ".join(parts)


SELF_HARM = "self-harm-and-suicide"


def matching_topics(topic_scores: list[tuple[str, float]], self_harm_crisis: bool) -> list[tuple[str, float]]:
    """The topics therapists are matched on: self-harm specialists are suggested only when the crisis detector
    found suicide or self-harm, or self-harm is what the question is most about (never for an angry question
    that merely comes near it)."""
    if self_harm_crisis:
        return list(topic_scores)
    return [(tid, score) for n, (tid, score) in enumerate(topic_scores) if n == 0 or tid != SELF_HARM]


def _diverse(scored: list, k: int) -> list:
    """The k best of (score, therapist, matched topics) rows, each next one chosen with DIVERSITY added when it
    covers a topic the chosen ones do not; ties keep the sorted order."""
    chosen: list = []
    covered: set[str] = set()
    pool = list(scored)
    while pool and len(chosen) < k:
        best = max(pool, key=lambda row: row[0] + (DIVERSITY if set(row[2]) - covered else 0.0))
        chosen.append(best)
        covered |= set(best[2])
        pool.remove(best)
    return chosen


def match_therapists(
    therapists: list[Therapist],
    topic_scores: list[tuple[str, float]],
    query_vec: np.ndarray | None,
    profile_vecs: np.ndarray | None,
    filters: TherapistFilters = TherapistFilters(),
    labels: dict[str, str] | None = None,
    k: int = 3,
) -> list[TherapistMatch]:
    """Rank therapists for a question; ties are broken by name so the order is deterministic."""
    labels = labels or {}
    weights = dict(topic_scores)
    total = sum(weights.values()) or 1.0
    scored = []
    for i, t in enumerate(therapists):
        if not filters.allows(t):
            continue
        matched = [tid for tid, _ in topic_scores if tid in t.specialties]
        coverage = sum(weights[tid] for tid in matched) / total
        similarity = float(profile_vecs[i] @ query_vec) if profile_vecs is not None and query_vec is not None else 0.0
        score = TOPIC_WEIGHT * coverage + PROFILE_WEIGHT * similarity
        if t.accepting_new_clients:
            score += 0.02  # among equals, someone who can start sooner
        scored.append((round(score, 6), t, matched))
    scored.sort(key=lambda row: (-row[0], row[1].name, row[1].id))
    scored = _diverse(scored, k)
    return [
        TherapistMatch(
            id=t.id,
            name=t.name,
            credentials=t.credentials,
            specialties=list(t.specialties),
            matched_topics=matched,
            why=describe(t, matched, labels),
            profile_url=t.profile_url,
            score=score,
        )
        for score, t, matched in scored[:k]
    ]
