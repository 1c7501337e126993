"""Questions about the practice's therapists answered from the directory's fields, not from articles.

Language, place, online or in person, fees and sliding scale, openings, who they see, credentials, pronouns and
how to book: the answer is a short, labelled statement built from the fields, and the profiles that fit are the
ones the question asked for (its filters joined to the visitor's own).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import numpy as np

from kb.directory.matching import TherapistFilters, filter_therapists, match_therapists
from kb.directory.therapists import Directory, Therapist
from kb.records import TherapistMatch

MAX_WORDS = 30  # longer questions tell a story; a word like "online" in them is not a question about the directory
MAX_NAMES = 6
LABEL = "From our therapist directory"

# Languages people ask for, and what the directory calls them.
LANGUAGES = {
    "mandarin": "Mandarin",
    "cantonese": "Cantonese",
    "chinese": "Mandarin",
    "french": "French",
    "français": "French",
    "francais": "French",
    "spanish": "Spanish",
    "español": "Spanish",
    "punjabi": "Punjabi",
    "hindi": "Hindi",
    "urdu": "Urdu",
    "arabic": "Arabic",
    "farsi": "Farsi",
    "persian": "Farsi",
    "tamil": "Tamil",
    "tagalog": "Tagalog",
    "filipino": "Tagalog",
    "korean": "Korean",
    "japanese": "Japanese",
    "italian": "Italian",
    "portuguese": "Portuguese",
    "ukrainian": "Ukrainian",
    "russian": "Russian",
    "somali": "Somali",
    "twi": "Twi",
    "igbo": "Igbo",
    "hebrew": "Hebrew",
    "gujarati": "Gujarati",
    "bengali": "Bengali",
    "bangla": "Bengali",
    "asl": "ASL",
    "sign language": "ASL",
    "german": "German",
    "polish": "Polish",
    "vietnamese": "Vietnamese",
    "greek": "Greek",
    "turkish": "Turkish",
    "amharic": "Amharic",
    "swahili": "Swahili",
    "english": "English",
}
POPULATIONS = [
    ("adolescents", "teens", re.compile(r"\b(teens?|teenagers?|adolescents?|youth|high school(er)?s?)\b", re.I)),
    (
        "couples",
        "couples",
        re.compile(
            r"\b(couples?|my (partner|husband|wife|spouse|boyfriend|girlfriend) and i|"
            r"(partner|husband|wife|spouse) and me|together as a couple)\b",
            re.I,
        ),
    ),
    ("families", "families", re.compile(r"\b(famil(y|ies)|parents? and (child|kid|teen)s?)\b", re.I)),
    (
        "older adults",
        "older adults",
        re.compile(r"\b(older adults?|seniors?|elderly|retirees?|in my (60|70|80)s)\b", re.I),
    ),
]
CREDENTIALS = [  # (what people say, what the directory's credentials contain, how to name them)
    (re.compile(r"\bpsychologists?\b|\bc\.? ?psych\b", re.I), re.compile(r"C\.Psych(?!\.Assoc)"), "psychologists"),
    (re.compile(r"\bpsychological associates?\b", re.I), re.compile(r"C\.Psych\.Assoc"), "psychological associates"),
    (re.compile(r"\bsocial workers?\b|\brsw\b|\bmsw\b", re.I), re.compile(r"RSW"), "social workers"),
    (
        re.compile(r"\b(registered )?psychotherapists?\b|\brp\b", re.I),
        re.compile(r"\bRP\b"),
        "registered psychotherapists",
    ),
    (
        re.compile(r"\b(marriage and family|family) therapists?\b|\brmft\b", re.I),
        re.compile(r"RMFT"),
        "marriage and family therapists",
    ),
    (re.compile(r"\bpsychiatrists?\b", re.I), re.compile(r"\bMD\b|FRCPC"), "psychiatrists"),
]
CREDENTIAL_NAMES = {
    "RP": "registered psychotherapist",
    "RP (Qualifying)": "registered psychotherapist (qualifying)",
    "MSW RSW": "registered social worker",
    "PhD C.Psych": "psychologist",
    "MA C.Psych.Assoc.": "psychological associate",
    "RMFT": "marriage and family therapist",
}

_CUE = re.compile(
    r"\b(do you|does (anyone|any|one)|do any|can (i|my|we)|could (i|we)|may i|do we|"
    r"are (there|any)|is there|any of|who |"
    r"which|offer|available|find (a|me|someone)|looking for|i want|i need|i'?d like|i would like|"
    r"your (therapists?|counsell?ors?|practice|clinic|office|team)|someone who|anyone who|a therapist)",
    re.I,
)
_WHO = re.compile(
    r"\b(therapists?|thérapeutes?|counsell?ors?|counselors?|psychologists?|clinicians?|someone|"
    r"anyone|somebody|sessions?|therapy|thérapie|appointments?)\b",
    re.I,
)
_EXPLAIN = re.compile(
    r"\b(difference|differ|different from|vs\.?|versus|compared? (to|with)|what is an?|what's an?|"
    r"what does an?|what do (a|an)?)\b",
    re.I,
)
_SPEAK = re.compile(r"\b(speaks?|speaking|spoken|language|languages|parle|parlez|habla)\b", re.I)
_BOOK = re.compile(
    r"\b(book(ing)?|make|schedule|set up|arrange|request) (an? |my |the )?(first )?"
    r"(appointment|session|consultation|consult|intake)\b|\bhow (do|can|would) i (book|sign up|"
    r"get started|start therapy (with|here)|see (one of )?your)|\bhow to book\b|^book\b",
    re.I,
)
_FORMAT_ONLINE = re.compile(
    r"\b(online|virtual(ly)?|video|zoom|remote(ly)?|telehealth|by phone|over the phone)\b", re.I
)
_FORMAT_PERSON = re.compile(r"\b(in[- ]person|face[- ]to[- ]face|in the office|at (your|the) office)\b", re.I)
_FEES = re.compile(
    r"\bhow much\b|\b(fees?|prices?|pricing|rates?|sliding[- ]scale|afford(able)?|cheap(er)?|"
    r"low[- ]cost|expensive|per session)\b|\$ ?\d+|\bcosts?\b.*\b(therapy|session|therapist|appointment|"
    r"counsell?ing|you)\b|\b(therapy|session|appointment)s? costs?\b",
    re.I,
)
_INSURANCE = re.compile(
    r"\b(insurance|insured|covered|coverage|ohip|benefits|tax|receipts?|employee assistance|eap)\b", re.I
)
_SLIDING = re.compile(r"\b(sliding[- ]scale|afford|low[- ]cost|cheap|reduced fees?|can'?t pay|low income)\b", re.I)
_MAX_FEE = re.compile(r"(?:under|below|less than|at most|up to|no more than|max(?:imum)?)\s*\$?\s*(\d{2,4})", re.I)
_ACCEPTING = re.compile(
    r"\b(accepting|taking|take on|seeing) (any )?(new )?(clients|patients|people)\b|"
    r"\bnew clients\b|\bwait ?(list|ing list)\b|\bhow (long|soon)\b.*\b(wait|seen|start)\b",
    re.I,
)
_OPENINGS = re.compile(r"\b(openings?|availability|available)\b", re.I)
_PLACE_CUE = re.compile(
    r"\b(where (are|is) (you|your|the)|located|locations?|offices?|near me|nearby|close to me|"
    r"in my area|neighbourhood|neighborhood|downtown|address)\b",
    re.I,
)
_PRONOUNS = re.compile(r"\bpronouns?\b|\b(they/them|she/her|he/him)\b", re.I)
_SOME_PRONOUNS = re.compile(r"\b(they/them|she/her|he/him)\b", re.I)
_OURS = re.compile(r"\b(you|your|yours|here|charge|charges|practice|clinic|office|counsell?ing|psychotherapy)\b", re.I)
SHORT_WORDS = 5
_NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]


@dataclass
class DirectoryQuestion:
    """What a question asks of the directory, and the filters it implies."""

    asks: list[str]  # language | location | format | fees | accepting | population | credentials | pronouns | booking
    filters: TherapistFilters
    place: str = ""  # a city or neighbourhood named in the question
    credential: tuple[re.Pattern, str] | None = None  # (how the directory writes it, its name)
    pronouns: str = ""
    unknown_language: str = ""  # a language asked for that no therapist lists


@dataclass
class DirectoryAnswer:
    """The labelled answer and the therapists who fit, by id."""

    text: str
    filters: TherapistFilters
    ids: list[str] = field(default_factory=list)


def _number(n: int, capital: bool = False) -> str:
    word = _NUMBERS[n] if n < len(_NUMBERS) else str(n)
    return word[0].upper() + word[1:] if capital else word


def _names(items: list[str]) -> str:
    if len(items) > MAX_NAMES:
        items = items[:MAX_NAMES] + [f"{len(items) - MAX_NAMES} more"]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def read_question(question: str, directory: Directory) -> DirectoryQuestion | None:
    """What a question asks of the directory, or None when it is a question for the library."""
    text = " ".join(question.split())
    if not directory.therapists or len(re.findall(r"\w+", text)) > MAX_WORDS:
        return None
    asks: list[str] = []
    values: dict = {}
    cue = bool(_CUE.search(text))
    if _BOOK.search(text):
        asks.append("booking")
    known = {lang.lower(): lang for t in directory.therapists for lang in t.languages}
    unknown = ""
    who = cue or bool(_WHO.search(text))
    for word, language in LANGUAGES.items():
        if (
            who
            and re.search(rf"\b{re.escape(word)}\b", text, re.I)
            and (
                _SPEAK.search(text)
                or re.search(rf"\bin {re.escape(word)}\b|\b{re.escape(word)}[- ]speaking\b", text, re.I)
            )
        ):
            if language.lower() in known:
                values["language"] = known[language.lower()]
            else:
                unknown = language
            asks.append("language")
            break
    else:
        if who and re.search(r"\blanguages?\b", text, re.I):
            asks.append("language")
    # "the exchange rate today", "watch the game online": a fee or a format word is about us only beside a word
    # for therapy or the practice, or in a question too short to be about anything else ("how much?").
    ours = bool(_WHO.search(text) or _OURS.search(text)) or len(re.findall(r"\w+", text)) <= SHORT_WORDS
    online, person = bool(_FORMAT_ONLINE.search(text)), bool(_FORMAT_PERSON.search(text))
    if (online or person) and cue and ours:
        asks.append("format")
        if online != person:
            values["format"] = "online" if online else "in-person"
    if _FEES.search(text) and not _INSURANCE.search(text) and ours:
        asks.append("fees")
        if _SLIDING.search(text):
            values["sliding_scale"] = True
        fee = _MAX_FEE.search(text)
        if fee:
            values["max_fee"] = int(fee.group(1))
    if _ACCEPTING.search(text) or (_OPENINGS.search(text) and cue and re.search(r"\btherapists?\b|\byou\b", text)):
        asks.append("accepting")
        values["accepting"] = True
    for population, _, pattern in POPULATIONS:
        if (
            pattern.search(text)
            and cue
            and re.search(
                r"\b(see|work|works|treat|specializ|speciali[sz]e|for|with|"
                r"offer|therapist|counsell?or|come)",
                text,
                re.I,
            )
        ):
            asks.append("population")
            values["population"] = population
            break
    credential = None
    if cue or re.search(r"\b(credentials?|qualifications?|qualified|licen[cs]ed|regulated)\b", text, re.I):
        for said, written, name in CREDENTIALS:
            if said.search(text):
                credential = (written, name)
                break
        if credential or re.search(r"\b(credentials?|qualifications?|qualified|licen[cs]ed|regulated)\b", text, re.I):
            asks.append("credentials")
    pronouns = ""
    if _PRONOUNS.search(text):
        asks.append("pronouns")
        some = _SOME_PRONOUNS.search(text)
        pronouns = some.group(1).lower() if some else ""
    place = ""
    places = {p for t in directory.therapists for p in (t.city, t.neighbourhood) if p}
    for name in sorted(places, key=len, reverse=True):
        if re.search(rf"\b(in|near|around|close to|at) (the )?{re.escape(name)}\b", text, re.I) and (cue or asks):
            place = name
            break
    if place or (_PLACE_CUE.search(text) and (cue or re.search(r"\bwhere\b", text, re.I))):
        asks.append("location")
    if not asks or (_EXPLAIN.search(text) and not cue and asks != ["booking"]):
        return None  # "What's the difference between a psychologist and ...?" is for the library
    return DirectoryQuestion(asks, TherapistFilters(**values), place, credential, pronouns, unknown)


def merge(visitor: TherapistFilters, asked: TherapistFilters) -> TherapistFilters:
    """The question's filters over the visitor's (the visitor's stay where the question says nothing)."""
    changes = {
        f.name: getattr(asked, f.name) for f in dataclasses.fields(asked) if getattr(asked, f.name) not in (None, False)
    }
    return dataclasses.replace(visitor, **changes)


def _fits(t: Therapist, q: DirectoryQuestion) -> bool:
    if q.place and q.place.lower() not in (t.city.lower(), t.neighbourhood.lower()):
        return False
    if q.credential and not q.credential[0].search(t.credentials):
        return False
    return not q.pronouns or t.pronouns.lower() == q.pronouns


def _format(t: Therapist) -> str:
    return " and ".join("in person" if f == "in-person" else f for f in t.formats)


def _who(t: Therapist, q: DirectoryQuestion, currency: str) -> str:
    """A name with the details the question asked about."""
    details = []
    if "credentials" in q.asks:
        details.append(t.credentials)
    if "pronouns" in q.asks and t.pronouns:
        details.append(t.pronouns)
    if "location" in q.asks or "language" in q.asks or not details:
        details.append(_place(t))
    if "format" in q.asks or "location" in q.asks:
        details.append(_format(t))
    if "fees" in q.asks:
        details.append(f"${t.fee}" + (", sliding scale" if t.sliding_scale else ""))
    return f"{t.name} ({'; '.join(d for d in details if d)})"


def _criteria(q: DirectoryQuestion, f: TherapistFilters, populations: dict[str, str]) -> list[tuple[str, str]]:
    """What the question asked for, as (plural, singular) verb phrases: "work in French" / "works in French"."""
    out = []
    if f.language:
        out.append((f"work in {f.language}", f"works in {f.language}"))
    if f.format:
        where = "online" if f.format == "online" else "in person"
        out.append((f"see clients {where}", f"sees clients {where}"))
    if f.population:
        label = populations.get(f.population, f.population)
        out.append((f"work with {label}", f"works with {label}"))
    if q.place:
        out.append((f"work in {q.place}", f"works in {q.place}"))
    if q.credential:
        out.append((f"are {q.credential[1]}", f"is {_singular(q.credential[1])}"))
    if q.pronouns:
        out.append((f"use {q.pronouns} pronouns", f"uses {q.pronouns} pronouns"))
    if f.sliding_scale:
        out.append(("offer a sliding scale", "offers a sliding scale"))
    if f.max_fee is not None:
        out.append((f"charge ${f.max_fee} or less a session", f"charges ${f.max_fee} or less a session"))
    if f.accepting:
        out.append(("are accepting new clients", "is accepting new clients"))
    return out


def _singular(plural: str) -> str:
    word = plural[:-1] if plural.endswith("s") else plural
    return ("an " if word[0] in "aeiou" else "a ") + word


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _overview(q: DirectoryQuestion, everyone: list[Therapist], currency: str) -> list[str]:
    """What the whole directory says about the fields asked, when the question names no value."""
    n = len(everyone)
    out = []
    if "language" in q.asks:
        languages = sorted({lang for t in everyone for lang in t.languages} - {"English"})
        out.append(f"Besides English, our therapists work in {_listed(languages)}.")
    if "format" in q.asks:
        online = sum("online" in t.formats for t in everyone)
        person = sum("in-person" in t.formats for t in everyone)
        both = sum(len(t.formats) > 1 for t in everyone)
        out.append(
            f"{_number(online, True)} of our {n} therapists see clients online and {_number(person)} in "
            f"person; {_number(both)} offer both."
        )
    if "fees" in q.asks:
        fees = sorted(t.fee for t in everyone)
        sliding = sorted(t.name for t in everyone if t.sliding_scale)
        out.append(
            f"Fees are ${fees[0]} to ${fees[-1]} a session ({currency}); {_number(len(sliding))} of our {n} "
            f"therapists offer a sliding scale" + (f": {_names(sliding)}." if sliding else ".")
        )
    if "accepting" in q.asks:
        open_ = [t for t in everyone if t.accepting_new_clients]
        out.append(
            f"{_number(len(open_), True)} of our {n} therapists are accepting new clients; the others have a waitlist."
        )
    if "credentials" in q.asks:
        counts: dict[str, int] = {}
        for t in everyone:
            name = CREDENTIAL_NAMES.get(t.credentials, t.credentials)
            counts[name] = counts.get(name, 0) + 1
        listed = [
            f"{_number(c)} " + (re.sub(r"^([^(]*?)( \(|$)", r"\1s\2", name, count=1) if c > 1 else name)
            for name, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        out.append(f"Our {n} therapists are {_listed(listed)}; each profile lists their credentials.")
    if "pronouns" in q.asks:
        by_pronouns: dict[str, list[str]] = {}
        for t in everyone:
            by_pronouns.setdefault(t.pronouns or "not listed", []).append(t.name)
        out.append(
            "Our therapists list their pronouns: "
            + _listed(
                [
                    f"{len(v)} {k}" + (f" ({_names(v)})" if len(v) <= 3 else "")
                    for k, v in sorted(by_pronouns.items(), key=lambda kv: -len(kv[1]))
                ]
            )
            + "."
        )
    if "location" in q.asks:
        cities: dict[str, int] = {}
        for t in everyone:
            cities[t.city] = cities.get(t.city, 0) + 1
        online = sum("online" in t.formats for t in everyone)
        places = _listed([f"{c} ({k})" for c, k in sorted(cities.items(), key=lambda kv: (-kv[1], kv[0]))])
        out.append(f"Our therapists work in {places}; {_number(online)} of them also see clients online.")
    return out


def answer_from_directory(
    question: str,
    directory: Directory,
    visitor: TherapistFilters = TherapistFilters(),
    booking_text: str = "",
    booking_url: str = "",
) -> DirectoryAnswer | None:
    """A short, labelled answer from the directory's fields, or None when the question is for the library."""
    q = read_question(question, directory)
    if q is None:
        return None
    filters = merge(visitor, q.filters)
    everyone = directory.therapists
    sample = " (sample data)" if directory.sample_data else ""
    fitting = [t for t in filter_therapists(everyone, filters) if _fits(t, q)]
    populations = {p: label for p, label, _ in POPULATIONS}
    criteria = _criteria(q, filters, populations)
    named = [t for t in everyone if _named(t, question)]
    sentences = []
    if q.unknown_language:
        sentences.append(f"None of our therapists lists {q.unknown_language}.")
    if named and not criteria:
        sentences += [_profile(t, directory.currency) for t in named]
        fitting = named
    elif criteria:
        what = _listed([plural for plural, _ in criteria])
        if len(fitting) == 1:
            what = _listed([single for _, single in criteria])
        if fitting:
            who = _names([_who(t, q, directory.currency) for t in fitting])
            many = "therapist" if len(everyone) == 1 else "therapists"
            sentences.append(f"{_number(len(fitting), True)} of our {len(everyone)} {many} {what}: {who}.")
        else:
            sentences.append(f"None of our therapists {what}" + (" right now." if filters.accepting else "."))
    if not named and (not criteria or not fitting):
        sentences += _overview(q, everyone, directory.currency)
    if "booking" in q.asks:
        route = (
            booking_text.strip()
            or "To book, choose a therapist below or in our directory and use the contact details on their profile."
        )
        link = booking_url.strip() or directory.directory_url
        sentences.append(route + (f" {link}" if link and link not in route else ""))
    if not sentences:
        return None
    return DirectoryAnswer(
        f"{LABEL}{sample}: " + " ".join(sentences),
        filters,
        [t.id for t in (fitting if criteria or named else everyone)],
    )


def _named(t: Therapist, question: str) -> bool:
    """Whether the question names this therapist (full name, or title and surname)."""
    surname = t.name.split()[-1]
    return bool(
        re.search(
            rf"\b{re.escape(t.name)}\b|\b(dr\.?|doctor|mr\.?|ms\.?|mrs\.?|mx\.?) {re.escape(surname)}\b", question, re.I
        )
    )


def _place(t: Therapist) -> str:
    neighbourhood = t.neighbourhood.replace(" (", ", ").replace(")", "")
    return ", ".join(p for p in (t.city, neighbourhood) if p)


def _profile(t: Therapist, currency: str) -> str:
    """Everything the directory says of one therapist, in one sentence."""
    fee = f"${t.fee} a session ({currency})" + (" with a sliding scale" if t.sliding_scale else "")
    status = "accepting new clients" if t.accepting_new_clients else "waitlist only"
    return (
        f"{t.name} ({t.credentials}{', ' + t.pronouns if t.pronouns else ''}) works in {_place(t)}, "
        f"{_format(t)}, in {_listed(list(t.languages))}; {fee}; {status}."
    )


def directory_matches(
    ids: list[str],
    therapists: list[Therapist],
    topic_scores: list[tuple[str, float]],
    query_vec: np.ndarray | None,
    profile_vecs: np.ndarray | None,
    labels: dict[str, str],
    k: int = 3,
) -> list[TherapistMatch]:
    """The profiles a directory answer names, best fit to the question first."""
    keep = [i for i, t in enumerate(therapists) if t.id in set(ids)]
    vecs = profile_vecs[keep] if profile_vecs is not None and len(keep) else None
    return match_therapists([therapists[i] for i in keep], topic_scores, query_vec, vecs, TherapistFilters(), labels, k)
