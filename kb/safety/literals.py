"""Literal prefilters for the crisis patterns: strings of which every match must contain one.

A long message has dozens of clauses and crisis.yaml ~90 patterns of up to a few thousand characters each;
running every pattern over every clause cost most of the detector's time on long messages. Every match of
`\\bkill (?:my|him)self\\b` contains "kill ", so a clause without that string is skipped with one substring
test. The strings come from the parsed pattern, so they are exact by construction: a pattern the parser
cannot read, or one that guarantees no literal (`\\w+`), gets no prefilter and always runs.
"""

from __future__ import annotations

import re

try:  # Python 3.11+; sre_parse is the same module under its old name
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Pythons: every pattern runs, results unchanged
    _c = _p = None

MAX_STRINGS = 64  # more alternatives than this and the substring tests cost what the regex would
MAX_CLASS = 4  # a character class of up to this many letters counts as alternatives ("[sz]")

Literals = frozenset[str]


def required_literals(pattern: re.Pattern) -> Literals | None:
    """Strings one of which every match of pattern contains, or None (no prefilter: always run it)."""
    if _p is None or pattern.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    try:
        parsed = _p.parse(pattern.pattern, pattern.flags)
    except Exception:  # noqa: BLE001 - a parser we cannot read is no prefilter, never an error
        return None
    found = _sequence(list(parsed))
    return found if found and "" not in found else None


class Prefilter:
    """Which of many patterns can match a text, from one scan for all their literals.

    One regex, a trie of every literal inside a lookahead, reports the longest literal starting at each
    position; the shorter literals starting there are its prefixes, added from a table. So the set of
    literals found is exactly the set present, in one C-level pass instead of a substring test per literal.
    """

    def __init__(self, literals: list[Literals | None]):
        self.literals = tuple(literals)
        self.always = frozenset(i for i, found in enumerate(literals) if found is None)
        self.owners: dict[str, set[int]] = {}
        for i, found in enumerate(literals):
            for s in found or ():
                self.owners.setdefault(s, set()).add(i)
        words = sorted(self.owners)
        self.prefixes = {w: [p for p in words if w.startswith(p)] for w in words}
        self.scan = re.compile("(?=(" + _trie(words) + "))") if words else None

    def runnable(self, text: str) -> set[int]:
        """Indexes of the patterns that can match text (the others cannot)."""
        found = set(self.always)
        if self.scan is not None:
            for longest in set(self.scan.findall(text)):
                for literal in self.prefixes[longest]:
                    found |= self.owners[literal]
        return found


def _trie(words: list[str]) -> str:
    """A regex matching the longest of words at a position (greedy: a word that goes on is tried first)."""
    tree: dict = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def render(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + render(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return render(tree)


def _better(a: Literals | None, b: Literals | None) -> Literals | None:
    """The more selective of two necessary sets: longer shortest string, then fewer strings."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b, key=lambda s: (min(map(len, s)), -len(s)))


def _sequence(items: list) -> Literals | None:
    """Every match of a sequence contains what each of its items requires: keep the most selective one,
    with each run of plain characters taken as one string."""
    best: Literals | None = None
    run: list[str] = []
    for op, av in items:
        if op is _c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            best = _better(best, frozenset(["".join(run)]))
            run = []
        best = _better(best, _item(op, av))
    if run:
        best = _better(best, frozenset(["".join(run)]))
    return best


def _item(op, av) -> Literals | None:
    """What one parsed item requires (None: nothing it can promise)."""
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        return None if add_flags or del_flags else _sequence(list(sub))
    if op is _c.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            found = _sequence(list(branch))
            if not found:
                return None  # one alternative promises nothing, so the whole alternation promises nothing
            union |= found
        return frozenset(union) if len(union) <= MAX_STRINGS else None
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        low, _high, sub = av
        return _sequence(list(sub)) if low >= 1 else None
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _sequence(list(av))
    if op is _c.IN:
        chars = [chr(v) for o, v in av if o is _c.LITERAL]
        return frozenset(chars) if len(chars) == len(av) and len(chars) <= MAX_CLASS else None
    return None  # \b, lookarounds, ".", negated classes, back references: no promise
