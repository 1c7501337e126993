"""Which language a question is in: English or French, by a real language identifier (lingua).

Only the two languages the practice serves are compared, which is both faster and more accurate on short
text. A question too short to tell ("ok", "kms") counts as English, the language of the articles.
"""

from __future__ import annotations

import threading
from functools import lru_cache

FRENCH_CONFIDENCE = 0.7  # below this a short mixed question is read as English

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.FRENCH).build()


def detect_language(text: str) -> str:
    """'fr' or 'en'."""
    if not text or not any(ch.isalpha() for ch in text):
        return "en"
    with _lock:  # the detector loads its models on first use
        detector = _detector()
    from lingua import Language

    return "fr" if detector.compute_language_confidence(text, Language.FRENCH) >= FRENCH_CONFIDENCE else "en"


def warm_up() -> None:
    """Load the language models now (a server calls this at start, so no visitor waits for it)."""
    detect_language("Bonjour, je voudrais savoir comment ça marche.")
