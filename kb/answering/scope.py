"""What the library does not answer, whatever words it shares with the articles, and questions it reads poorly.

The library is educational: it never advises on medication, never diagnoses, and does not refer to
lawyers or do coursework. Such questions get a kind, specific abstention instead of loosely related
passages. The model reads English; a question in French gets a notice and a lower bar for answering.
"""

from __future__ import annotations

import re

from kb.answering.language import detect_language

OUT_OF_SCOPE = [
    (
        re.compile(
            r"\b(dose|dosage|doses|mg|milligrams?|how much (melatonin|medication|medicine))\b|"
            r"\bwhich (antidepressant|medication|medicine|pill|drug)s?\b|"
            r"\b(should i|can i) (take|stop taking|increase|decrease) (\S+\s+){0,3}(medication|meds|pills?|"
            r"antidepressants?|melatonin|sertraline|escitalopram|lorazepam)\b|"
            r"\b(sertraline|escitalopram|fluoxetine|lorazepam|zoloft|lexapro|prozac) (or|vs\.?|versus)\b",
            re.I,
        ),
        "We can't give advice about medication. Please talk to your doctor or pharmacist.",
    ),
    (
        re.compile(
            r"\b(diagnose me|give me a diagnosis|do i have (adhd|bipolar|bpd|ocd|autism|ptsd|"
            r"depression|an? (personality|eating) disorder))\b",
            re.I,
        ),
        "We can't diagnose anyone. A family doctor, psychologist or psychiatrist can assess what you are "
        "going through.",
    ),
    (
        re.compile(
            r"\b((need|find|get|hire|recommend|suggest|know|consult|contact|talk to|refer me to) (me )?"
            r"(a|an|my)( \w+)? (lawyer|attorney)|legal advice|sue (my|the|him|her))\b",
            re.I,
        ),
        "We can't give legal advice or refer you to a lawyer.",
    ),
    (
        re.compile(
            r"\bmy ((intro psych |psychology |psych )(exam|assignment|midterm)|"
            r"(intro psych |psychology |psych )?(homework|essay))\b",
            re.I,
        ),
        "This library explains therapy for the public; it isn't a study aid.",
    ),
    (
        re.compile(
            r"\b(stop|keep|train|get|teach|make) (my|our|the|a) (new )?"
            r"(puppy|dog|kitten|cat|bird|parrot|rabbit|hamster) (from |to |not to |to stop |stop )?"
            r"(bite|biting|bark|barking|chew|chewing|scratch|scratching|pee|peeing|poop|pooping|"
            r"jump|jumping|pull|pulling|sit|stay|come|use the litter)\b|"
            r"\b(house|potty|crate|leash|litter)[- ]?train\w* (my|our|a|the) (new )?(puppy|dog|kitten|cat)\b",
            re.I,
        ),
        "This library is about people's feelings and relationships; for a pet's behaviour, a veterinarian or a "
        "certified trainer can help.",
    ),
]


def out_of_scope(question: str) -> str | None:
    """The reason the library won't answer this question, or None."""
    for pattern, reason in OUT_OF_SCOPE:
        if pattern.search(question):
            return reason
    return None


def looks_french(question: str) -> bool:
    """True when the language identifier reads the question as French."""
    return detect_language(question) == "fr"
