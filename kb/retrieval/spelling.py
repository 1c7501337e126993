"""Fix obvious typos in a question against the words of the corpus ("anxeity" -> "anxiety").

A word is a typo only if no English dictionary knows it: pyspellchecker's word list (160,000 words, shipped in
its wheel, read once, only when a question has a word neither the corpus nor the model's vocabulary knows)
keeps real words the corpus lacks as typed ("hoarding" never becomes "harming", nor "cussing" "cutting").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z]+")
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return (
        {a + b[1:] for a, b in splits if b}
        | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        | {a + c + b[1:] for a, b in splits if b for c in LETTERS}
        | {a + c + b for a, b in splits for c in LETTERS}
    )


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The English words pyspellchecker knows (empty when it is not installed: then only the corpus and the
    model's vocabulary count as known)."""
    try:
        from spellchecker import SpellChecker
    except ImportError:
        return frozenset()
    return frozenset(SpellChecker(language="en", distance=1).word_frequency.dictionary)


def is_english(word: str) -> bool:
    return word in english_words()


class SpellingFixer:
    """Replaces an unknown word by the most frequent corpus word one edit away (two for long words)."""

    def __init__(
        self,
        texts: list[str],
        is_word: Callable[[str], bool] | None = None,
        min_count: int = 3,
        dictionary: Callable[[str], bool] = is_english,
    ):
        """texts: the corpus; is_word: whether a word is known English (e.g. one token of the model's vocabulary);
        dictionary: the last check before a word is taken for a typo (an English word list)."""
        counts = Counter(w.lower() for text in texts for w in _WORD.findall(text))
        self.words = {w: n for w, n in counts.items() if n >= min_count}
        self.known = set(counts)
        self.is_word = is_word or (lambda word: False)
        self.dictionary = dictionary

    def correct(self, word: str) -> str:
        lower = word.lower()
        # Short words, names and acronyms, and real words the corpus lacks ("hamster") stay as typed.
        if len(lower) < 5 or not word.islower() or lower in self.known or self.is_word(lower):
            return word
        if self.dictionary(lower):  # a real word the corpus lacks ("hoarding", "stepson")
            return word
        # Typos rarely change a word's first letter; requiring it keeps "hamster" from becoming "master".
        candidates = [w for w in _edits1(lower) if w in self.words and w[0] == lower[0]]
        if not candidates and len(lower) >= 7:
            candidates = [w2 for w1 in _edits1(lower) for w2 in _edits1(w1) if w2 in self.words and w2[0] == lower[0]]
        if not candidates:
            return word
        return max(candidates, key=lambda w: (self.words[w], w))

    def fix(self, text: str) -> str:
        """The text with each unknown word corrected when a close corpus word exists."""
        return _WORD.sub(lambda m: self.correct(m.group(0)), text)
