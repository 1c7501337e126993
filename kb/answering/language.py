"""Which language a question is in: English or French, by a real language identifier (lingua).

Only the two languages the practice serves are compared, which is both faster and more accurate on short
text. A question too short to tell ("ok", "kms") counts as English, the language of the articles.
A question that is plainly English (plain ASCII, English function words, no French ones) is answered
without lingua: loading its models is most of a fresh process's first answer.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

FRENCH_CONFIDENCE = 0.7  # below this a short mixed question is read as English


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that are English and never French: two of them in an ASCII question mark it as English.
ENGLISH_WORDS = _words(
    "the is are was were what how why when who which do does did can could should would will i i'm i've you "
    "your my me am it this that these those with have has had for to of and or but not be been being about "
    "feel feeling get if there they them their he she his her we our from at by so just"
)
# Words (accents dropped) that French questions use and English ones rarely do: any of them sends the
# question to lingua, as does any letter outside ASCII.
FRENCH_WORDS = _words(
    "je j tu il elle est les des une un le la du et que qui quoi pas mon ma mes ton ta tes pour avec dans sur "
    "ce ca ces suis ai nous vous mais ou au aux ne n qu se sa ses leur comment pourquoi quand tres bien "
    "moi toi lui chu pu jsuis jveux veux peux fait faire etre avoir mal triste aide vie mort tout rien"
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.FRENCH).build()


def plainly_english(text: str) -> bool:
    """ASCII text with at least two English function words and no French one (no need to ask lingua)."""
    if not text.isascii():
        return False
    words = set(_WORD.findall(text.lower()))
    words |= {part for word in words if "'" in word for part in word.split("'")}
    return len(words & ENGLISH_WORDS) >= 2 and not words & FRENCH_WORDS


def detect_language(text: str) -> str:
    """'fr' or 'en'."""
    if not text or not any(ch.isalpha() for ch in text) or plainly_english(text):
        return "en"
    with _lock:  # the detector loads its models on first use
        detector = _detector()
    from lingua import Language

    return "fr" if detector.compute_language_confidence(text, Language.FRENCH) >= FRENCH_CONFIDENCE else "en"


def warm_up() -> None:
    """Load the language models now (a server calls this at start, so no visitor waits for it)."""
    detect_language("Bonjour, je voudrais savoir comment ça marche.")
