"""Crisis detection: patterns for clear statements, similarity to exemplars for indirect ones.

The rules, exemplars, threshold and resources live in kb/data/crisis.yaml. The text a person
typed is never logged or written anywhere; `Crisis.reason` names only the rule that fired.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources as package_files
from typing import Any

import numpy as np
import yaml

from kb.config import Settings
from kb.models.embedders import Embedder
from kb.errors import KBError
from kb.records import Crisis, Resource

KINDS = ("medical", "suicide", "harm-others", "violence", "self-harm")  # priority when several fire
URGENT = {"medical", "harm-others", "violence"}  # emergency services come before helplines
GENERAL = {"suicide", "self-harm", "harm-others"}  # kinds a general question can be about ("when a client ...")
MAX_CHARS = 20_000  # longer text is cut: nobody types more in a question box
MAX_PIECES = 8  # sentences embedded per question besides the whole text: the first and last ones
PIECE_CHARS = 600  # about 150 tokens; longer pieces cost time and rarely change the verdict
CONTEXT_CHARS = 160  # how far back a hit looks for a negation or for who it is about

_LETTERS = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "œ": "oe", "æ": "ae"})
_SENTENCES = re.compile(r"[.!?;\n]+")
# Patterns are judged clause by clause, so "I was suicidal as a teen, now I want to understand it"
# puts the past and the present in different clauses.
_CLAUSES = re.compile(r"\b(?:but|however|though|and now|now|mais|cependant|et maintenant|maintenant)\b")
# A pattern written with one of these words is itself a negation ("don't want to live").
_OWN_NEGATION = re.compile(r"\b(?:not|no|never|nothing|plus|pas|jamais|ne)\b|n't\b")
# Words inside a hit that say whose life is at risk ("kill himself", "better off without me").
_OTHER_REFLEXIVE = re.compile(r"\b(?:himself|herself|themselves|themself|(?:his|her|their) (?:own )?life|"
                              r"sa vie|ses jours|se suicider|se tuer)\b")
_SELF_REFLEXIVE = re.compile(r"\b(?:myself|my (?:own )?life|without me|mes jours|ma vie|me suicider|me tuer|"
                             r"sans moi)\b")


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    try:
        text = package_files.files("kb").joinpath("data/crisis.yaml").read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise KBError(f"kb/data/crisis.yaml: cannot read the crisis data ({exc}); reinstall the package") from None
    if not isinstance(data, dict) or "patterns" not in data or "resources" not in data:
        raise KBError("kb/data/crisis.yaml: expected 'resources' and 'patterns' sections; reinstall the package")
    return data


def _resources(region: str, emergency_first: bool) -> list[Resource]:
    regions = _data()["resources"]
    code = str(region or "").strip().upper()
    entry = regions.get(code) or regions["other"]
    code = code if code in regions else "other"
    groups = ["emergency", "helplines"] if emergency_first else ["helplines", "emergency"]
    return [Resource(r["name"], r["action"], code, r.get("url", "")) for g in groups for r in entry.get(g, [])]


def crisis_resources(region: str) -> list[Resource]:
    """Crisis lines, then emergency services, for a region code (CA, US; any other gets general advice)."""
    return _resources(region, emergency_first=False)


def _article_entries(entries: Any) -> list[tuple[str, str]]:
    return [(str(e["doc"]), str(e.get("section") or "")) for e in entries or [] if isinstance(e, dict) and e.get("doc")]


def crisis_article_entries() -> list[tuple[str, str]]:
    """Every (article id, section) pair kb/data/crisis.yaml names, for `kb validate`."""
    return [pair for by_person in _data().get("articles", {}).values() for entries in by_person.values()
            for pair in _article_entries(entries)]


def crisis_articles(crisis: Crisis) -> list[tuple[str, str]]:
    """(article id, section) pairs a crisis is answered from, best first (empty: answer as usual).

    Only for a crisis a pattern recognised: a statement merely similar to the exemplars may be a false alarm
    (a trauma story, say), and then the crisis panel comes first but the answer still fits the question.
    """
    if not crisis.detected or not crisis.explicit:
        return []
    by_person = _data().get("articles", {}).get(crisis.kind) or {}
    return _article_entries(by_person.get("other" if crisis.about_someone_else else "self"))


def helping_someone_else() -> list[str]:
    """Short guidance for a person worried about someone else."""
    return list(_data()["helping_someone_else"])


@lru_cache(maxsize=1)
def _spelling() -> tuple[re.Pattern, dict[str, str]]:
    table = {str(k): str(v) for k, v in _data()["spelling"].items()}
    words = sorted(table, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b"), table


def normalize(text: str) -> str:
    """Lowercase, no accents, one apostrophe, letter runs cut to two, common typos fixed."""
    text = unicodedata.normalize("NFKD", text[:MAX_CHARS].translate(_LETTERS))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().translate(_LETTERS)
    text = re.sub(r"([^\W\d])\1{2,}", r"\1\1", text)  # "soooo" -> "soo", "killlll" -> "kill"
    text = re.sub(r"\b([jn]) (?=[aeiouyh])", r"\1'", text)  # French elision typed as a space: "j ai"
    text = re.sub(r"\bi m\b", "i'm", text)
    pattern, table = _spelling()
    text = pattern.sub(lambda m: table[m.group(0)], text)
    return re.sub(r"[^\S\n]+", " ", text).strip()


@dataclass(frozen=True)
class _Rules:
    """The compiled regular expressions from crisis.yaml."""

    masks: tuple[re.Pattern, ...]
    patterns: tuple[tuple[str, str, re.Pattern, bool], ...]  # kind, name, regex, is itself a negation
    negation: re.Pattern
    not_negation: re.Pattern
    past: re.Pattern
    present: re.Pattern
    first_person: re.Pattern
    third_person: re.Pattern
    third_pronoun: re.Pattern
    generic_person: re.Pattern
    joking: re.Pattern


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    data = _data()
    fragments = data.get("fragments", {})

    def compile_(source: str, where: str) -> re.Pattern:
        for name, value in fragments.items():
            source = source.replace("{" + name + "}", value)
        try:
            return re.compile(source)
        except re.error as exc:
            raise KBError(f"kb/data/crisis.yaml: {where}: invalid pattern ({exc})") from None

    patterns = tuple((kind, name, compile_(source, f"patterns.{kind}.{name}"), bool(_OWN_NEGATION.search(source)))
                     for kind in KINDS for name, source in data["patterns"].get(kind, {}).items())
    return _Rules(
        masks=tuple(compile_(m, f"masks[{n}]") for n, m in enumerate(data.get("masks", []))),
        patterns=patterns,
        **{key: compile_(data[key], key) for key in
           ("negation", "not_negation", "past", "present", "first_person", "third_person", "third_pronoun",
            "generic_person", "joking")},
    )


@dataclass
class _Hit:
    kind: str
    name: str
    about_other: bool


def exemplar_texts() -> list[str]:
    """What the detector embeds once: crisis exemplars, then near misses (normalized, in file order)."""
    texts = [t for groups in _data()["exemplars"].values() for group in groups.values() for t in group]
    return [normalize(t) for t in texts + _data()["near_miss"]]


class CrisisDetector:
    """Decides whether a question signals a crisis, and for whom.

    Patterns give high-confidence hits and vetoes (idioms, topics, negation, the past); with an
    embedder, similarity to crisis exemplars minus similarity to near misses catches the rest.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.embedder = embedder
        self.rules = _rules()
        calibration = _data().get("calibration", {})
        self.threshold = float(calibration.get("threshold", 0.1))
        self.near_miss_weight = float(calibration.get("near_miss_weight", 1.0))
        self.min_similarity = float(calibration.get("min_similarity", 0.5))
        self.labels: list[tuple[str, str]] = []  # (kind, "self" | "other") per crisis exemplar
        self._crisis_vectors = self._near_vectors = None
        if embedder is not None:
            for kind, groups in _data()["exemplars"].items():
                for who, group in groups.items():
                    self.labels += [(kind, who)] * len(group)
            vectors = embedder.embed(exemplar_texts())
            self._crisis_vectors, self._near_vectors = vectors[:len(self.labels)], vectors[len(self.labels):]

    def detect(self, text: str) -> Crisis:
        """Crisis with kind, who it is about and resources, or Crisis(detected=False)."""
        if not isinstance(text, str) or not text.strip():
            return Crisis(detected=False)
        clean = normalize(text)
        hits, vetoes, kept = self._match(clean)
        if hits:
            best = min(hits, key=lambda h: KINDS.index(h.kind))
            return self._crisis(best.kind, best.about_other, 1.0, f"pattern {best.kind}/{best.name}", explicit=True)
        semantic = self._similar(kept)
        if semantic is not None and semantic.detected:
            return semantic
        score = semantic.score if semantic is not None else 0.0
        return Crisis(detected=False, score=score, reason="; ".join(vetoes))

    def _crisis(self, kind: str, about_other: bool, score: float, reason: str, explicit: bool = False) -> Crisis:
        resources = _resources(self.settings.region, emergency_first=kind in URGENT)
        return Crisis(True, kind, about_other, resources, score, reason, explicit)

    def _match(self, clean: str) -> tuple[list[_Hit], list[str], list[str]]:
        """Pattern hits, the vetoes that cancelled others, and the sentences left for the embedder."""
        rules = self.rules
        resolved = rules.present.search(clean) is None  # nothing says it is happening now
        hits: list[_Hit] = []
        vetoes: list[str] = []
        kept: list[str] = []
        for sentence in _SENTENCES.split(clean):
            remains = []
            bounds = [0] + [m.start() for m in _CLAUSES.finditer(sentence)] + [len(sentence)]
            for start, end in zip(bounds, bounds[1:]):
                clause = sentence[start:end]
                for mask in rules.masks:
                    clause = mask.sub(" ", clause)
                past = resolved and rules.past.search(clause) is not None
                for kind, name, regex, own_negation in rules.patterns:

                    def judge(m: re.Match, kind: str = kind, name: str = name, own: bool = own_negation) -> str:
                        who = self._who(kind, m)
                        veto = ("past" if past else "negation" if self._negated(m, own) else
                                "general question" if who == "general" and kind in GENERAL else
                                "joking" if kind == "harm-others" and self.rules.joking.search(m.string) else "")
                        if veto:
                            vetoes.append(f"{veto}: {kind}/{name}")
                            return " "  # the embedder must not see what was ruled out
                        hits.append(_Hit(kind, name, who == "other"))
                        return m.group(0)

                    clause = regex.sub(judge, clause)
                if not past:
                    remains.append(clause)
            piece = " ".join(" ".join(remains).split())
            if len(piece.split()) >= 2:
                kept.append(piece)
        return hits, vetoes, kept

    def _negated(self, m: re.Match, own_negation: bool) -> bool:
        """A negation just before the hit, or inside it, unless the pattern itself is a negation."""
        if own_negation:
            return False  # "don't want to live", "no reason to live", "je ne veux plus vivre"
        before = re.split(r"[,:(]", m.string[max(0, m.start() - CONTEXT_CHARS):m.start()])[-1]
        window = " ".join(self.rules.not_negation.sub(" ", before).split()[-4:]) + " " + m.group(0)
        return self.rules.negation.search(window) is not None

    def _who(self, kind: str, m: re.Match) -> str:
        """'self', 'other', or 'general' (a question about clients or people in general)."""
        hit = m.group(0)
        start = max(0, m.start() - CONTEXT_CHARS)
        if kind == "harm-others":  # who means to do it: the person named before the verb
            return self._last_person(m.string[start:m.start()] + hit.split(" ", 1)[0])
        if kind == "violence":  # who is hit or threatened
            if re.search(r"\b(?:me|us|moi|my (?:life|safety))\b|\bm'", hit):
                return "self"
            if re.search(r"\b(?:her|him|them|my \w+|la|le)\b|\bl'", hit):
                return "other"
        person = self._last_person(m.string[start:m.end()])
        if _SELF_REFLEXIVE.search(hit):
            return "self"
        if _OTHER_REFLEXIVE.search(hit):
            return "general" if person == "general" else "other"
        return person

    def _last_person(self, text: str) -> str:
        """The last person named in text; a pronoun stands for the person named before it."""
        rules = self.rules
        kinds = (("self", rules.first_person), ("other", rules.third_person), ("pronoun", rules.third_pronoun),
                 ("general", rules.generic_person))
        named = sorted((x.end(), who) for who, regex in kinds for x in regex.finditer(text))
        person = "self"
        for _, who in named:
            person = (person if person in ("other", "general") else "other") if who == "pronoun" else who
        return person

    def _similar(self, sentences: list[str]) -> Crisis | None:
        """Similarity to crisis exemplars minus similarity to near misses; None without an embedder."""
        if self.embedder is None or not sentences:
            return None
        if len(sentences) > MAX_PIECES:
            sentences = sentences[:MAX_PIECES // 2] + sentences[-MAX_PIECES // 2:]
        pieces = list(dict.fromkeys(p[:PIECE_CHARS] for p in [" ".join(sentences)] + sentences))
        try:
            vectors = self.embedder.embed(pieces)
        except Exception:  # noqa: BLE001 - a failing model must not take the answer down; patterns still ran
            return None
        crisis = vectors @ self._crisis_vectors.T
        near = (vectors @ self._near_vectors.T).max(axis=1) if len(self._near_vectors) else np.zeros(len(pieces))
        scores = crisis.max(axis=1) - self.near_miss_weight * near
        row = int(np.argmax(scores))
        column = int(np.argmax(crisis[row]))
        score, similarity = float(scores[row]), float(crisis[row, column])
        if score < self.threshold or similarity < self.min_similarity:
            return Crisis(detected=False, score=score)
        kind, who = self.labels[column]
        piece = pieces[row]
        about_other = self._last_person(piece) == "other" or (
            who == "other" and self.rules.third_person.search(piece) is not None)
        return self._crisis(kind, about_other, score, f"similar to {kind}/{who} exemplar ({score:.2f})")
