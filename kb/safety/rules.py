"""Crisis rules: normalisation, then patterns for what rules do well.

Explicit statements ("I want to kill myself"), and the scoping that decides whether a statement counts:
negation ("I'm not suicidal"), the past ("years ago I ..., now I'm well"), idioms ("this commute is killing
me"), general questions ("when a client says ..."), jokes, and who it is about. The learned classifier
(classifier.py) reads what these miss; the rules' verdicts are among its features.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from kb.errors import KBError
from kb.safety.data import KINDS, crisis_data
from kb.safety.literals import Prefilter, required_literals

MAX_CHARS = 20_000  # longer text is cut: nobody types more in a question box
CONTEXT_CHARS = 160  # how far back a hit looks for a negation or for who it is about
GENERAL = {"suicide", "self-harm", "harm-others"}  # kinds a general question can be about ("when a client ...")

_LETTERS = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'", "\u0153": "oe", "\u00e6": "ae"}
)
SENTENCES = re.compile(r"[.!?;\n]+")
# Patterns are judged clause by clause, so "I was suicidal as a teen, now I want to understand it"
# puts the past and the present in different clauses ("can't help but ..." stays one clause).
_CLAUSES = re.compile(r"\b(?:(?<!help )but|however|though|and now|now|mais|cependant|et maintenant|maintenant)\b")
# A pattern written with one of these words is itself a negation ("don't want to live").
_OWN_NEGATION = re.compile(r"\b(?:not|no|never|nothing|plus|pas|jamais|ne|pu)\b|n't\b")
_ESCAPES = re.compile(r"\\[bBwWsSdD]")  # "\bnot safe" is read as " not safe" when looking for the negation
# Words inside a hit that say whose life is at risk ("kill himself", "better off without me").
_OTHER_REFLEXIVE = re.compile(
    r"\b(?:himself|herself|themselves|themself|(?:his|her|their) (?:own )?life|"
    r"sa vie|ses jours|se suicider|se suicide|se tuer|se tue)\b"
)
_SELF_REFLEXIVE = re.compile(
    r"\b(?:myself|my (?:own )?life|without me|mes jours|ma vie|me suicider|me tuer|"
    r"sans moi)\b"
)


@lru_cache(maxsize=1)
def _spelling() -> tuple[re.Pattern, dict[str, str]]:
    table = {str(k): str(v) for k, v in crisis_data()["spelling"].items()}
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
    any_mask: re.Pattern  # one search that says whether any mask could apply to a clause: most match none
    prefilter: Prefilter  # which patterns can match a clause at all, from the strings each match must contain
    negation: re.Pattern
    not_negation: re.Pattern
    past: re.Pattern
    present: re.Pattern
    first_person: re.Pattern
    third_person: re.Pattern
    third_pronoun: re.Pattern
    generic_person: re.Pattern
    joking: re.Pattern
    urgency: tuple[tuple[str, re.Pattern], ...]  # imminence: a time, means at hand, an attempt under way


@lru_cache(maxsize=1)
def compiled_rules() -> _Rules:
    data = crisis_data()
    fragments = data.get("fragments", {})

    def compile_(source: str, where: str) -> re.Pattern:
        for name, value in fragments.items():
            source = source.replace("{" + name + "}", value)
        try:
            return re.compile(source)
        except re.error as exc:
            raise KBError(f"kb/data/crisis.yaml: {where}: invalid pattern ({exc})") from None

    patterns = tuple(
        (kind, name, compile_(source, f"patterns.{kind}.{name}"), bool(_OWN_NEGATION.search(_ESCAPES.sub(" ", source))))
        for kind in KINDS
        for name, source in data["patterns"].get(kind, {}).items()
    )
    masks = tuple(compile_(m, f"masks[{n}]") for n, m in enumerate(data.get("masks", [])))
    return _Rules(
        masks=masks,
        patterns=patterns,
        any_mask=_union(masks),
        prefilter=Prefilter([required_literals(regex) for _, _, regex, _ in patterns]),
        **{
            key: compile_(data[key], key)
            for key in (
                "negation",
                "not_negation",
                "past",
                "present",
                "first_person",
                "third_person",
                "third_pronoun",
                "generic_person",
                "joking",
            )
        },
        urgency=tuple((name, compile_(source, f"urgency.{name}")) for name, source in data.get("urgency", {}).items()),
    )


def _union(regexes: Iterable[re.Pattern]) -> re.Pattern:
    """One regex that matches wherever any of them does (none of crisis.yaml's use groups or inline flags)."""
    sources = [f"(?:{r.pattern})" for r in regexes]
    return re.compile("|".join(sources)) if sources else re.compile(r"(?!x)x")


@dataclass
class RuleHit:
    """A pattern that fired and was not ruled out."""

    kind: str
    name: str
    about_other: bool


@dataclass
class RuleMatch:
    """What the rules found in one message."""

    hits: list[RuleHit] = field(default_factory=list)
    vetoes: list[str] = field(default_factory=list)  # "negation: suicide/want-die", ... (names only)
    kept: list[str] = field(default_factory=list)  # sentences left once vetoed and past clauses are removed
    urgent: list[str] = field(default_factory=list)  # names of the imminence markers that fired
    someone_else: bool = False  # the message is about another person (a relative, a friend, a child)
    masked: bool = False  # a mask took something out: an idiom ("I'd kill for a coffee") or a negated word

    def best(self) -> RuleHit | None:
        return min(self.hits, key=lambda h: KINDS.index(h.kind)) if self.hits else None


class RuleMatcher:
    """Runs the compiled rules of crisis.yaml over normalised text."""

    def __init__(self) -> None:
        self.rules = compiled_rules()

    def match(self, clean: str) -> RuleMatch:
        """Pattern hits, vetoes, the text left for the classifier, imminence markers and who it is about."""
        hits, vetoes, kept, masked = self._match(clean)
        urgent = [name for name, regex in self.rules.urgency if regex.search(clean)]
        return RuleMatch(hits, vetoes, kept, urgent, self._last_person(clean) == "other", masked)

    def joking(self, clean: str) -> bool:
        """Whether the message says anywhere that it is a joke ("lol", "jk", "je niaise")."""
        return self.rules.joking.search(clean) is not None

    def _match(self, clean: str) -> tuple[list[RuleHit], list[str], list[str], bool]:
        """Pattern hits, the vetoes that cancelled others, the sentences left for the embedder, and whether a
        mask took anything out."""
        rules = self.rules
        resolved = rules.present.search(clean) is None  # nothing says it is happening now
        hits: list[RuleHit] = []
        vetoes: list[str] = []
        kept: list[str] = []
        masked = False
        for sentence in SENTENCES.split(clean):
            remains = []
            bounds = [0] + [m.start() for m in _CLAUSES.finditer(sentence)] + [len(sentence)]
            for start, end in zip(bounds, bounds[1:], strict=False):
                clause = sentence[start:end]
                if rules.any_mask.search(clause):
                    for mask in rules.masks:
                        clause, count = mask.subn(" ", clause)
                        masked = masked or count > 0
                past = resolved and rules.past.search(clause) is not None
                runnable = rules.prefilter.runnable(clause)
                for index, (kind, name, regex, own_negation) in enumerate(rules.patterns):
                    if index not in runnable:  # none of the strings its every match contains is in the clause
                        continue

                    def judge(
                        m: re.Match, kind: str = kind, name: str = name, own: bool = own_negation, past: bool = past
                    ) -> str:
                        who = self._who(kind, m)
                        veto = (
                            "past"
                            if past
                            else "negation"
                            if self._negated(m, own)
                            else "general question"
                            if who == "general" and kind in GENERAL
                            else "joking"
                            if kind == "harm-others" and self.rules.joking.search(m.string)
                            else ""
                        )
                        if veto:
                            vetoes.append(f"{veto}: {kind}/{name}")
                            return " "  # the embedder must not see what was ruled out
                        hits.append(RuleHit(kind, name, who == "other"))
                        return m.group(0)

                    judged = regex.sub(judge, clause)
                    if judged != clause:  # a veto blanked a hit: the strings present may have changed
                        clause, runnable = judged, rules.prefilter.runnable(judged)
                if not past:
                    remains.append(clause)
            piece = " ".join(" ".join(remains).split())
            if len(piece.split()) >= 2:
                kept.append(piece)
        return hits, vetoes, kept, masked

    def _negated(self, m: re.Match, own_negation: bool) -> bool:
        """A negation just before the hit, or inside it, unless the pattern itself is a negation."""
        if own_negation:
            return False  # "don't want to live", "no reason to live", "je ne veux plus vivre"
        before = re.split(r"[,:(]", m.string[max(0, m.start() - CONTEXT_CHARS) : m.start()])[-1]
        window = " ".join(self.rules.not_negation.sub(" ", before).split()[-4:]) + " " + m.group(0)
        return self.rules.negation.search(window) is not None

    def _who(self, kind: str, m: re.Match) -> str:
        """'self', 'other', or 'general' (a question about clients or people in general)."""
        hit = m.group(0)
        start = max(0, m.start() - CONTEXT_CHARS)
        if kind == "harm-others":  # who means to do it: the person named before the verb
            return self._last_person(m.string[start : m.start()] + hit.split(" ", 1)[0])
        if kind == "violence":  # who is hit or threatened
            if re.search(r"\b(?:me|us|moi|my (?:life|safety))\b|\bm'", hit):
                return "self"
            if re.search(r"\b(?:her|him|them|my \w+|la|le)\b|\bl'", hit):
                return "other"
        person = self._last_person(m.string[start : m.end()])
        if _SELF_REFLEXIVE.search(hit):
            return "self"
        if _OTHER_REFLEXIVE.search(hit):
            return "general" if person == "general" else "other"
        return person

    def _last_person(self, text: str) -> str:
        """The last person named in text; a pronoun stands for the person named before it."""
        rules = self.rules
        kinds = (
            ("self", rules.first_person),
            ("other", rules.third_person),
            ("pronoun", rules.third_pronoun),
            ("general", rules.generic_person),
        )
        named = sorted((x.end(), who) for who, regex in kinds for x in regex.finditer(text))
        person = "self"
        for _, who in named:
            person = (person if person in ("other", "general") else "other") if who == "pronoun" else who
        return person
