"""The therapist directory: loading and validation (matching lives in matching.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.config import Settings
from kb.errors import InputError
from kb.ingest.data_files import read_yaml_list, without_path
from kb.records import Failure

POPULATIONS = {"adults", "couples", "adolescents", "families", "older adults"}
FORMATS = {"in-person", "online"}
LIST_FIELDS = ("modalities", "specialties", "populations", "languages", "formats")
MAX_FEE = 2000  # dollars per session
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True)
class Therapist:
    id: str
    name: str
    pronouns: str
    credentials: str
    bio: str
    modalities: tuple[str, ...]
    specialties: tuple[str, ...]
    populations: tuple[str, ...]
    languages: tuple[str, ...]
    formats: tuple[str, ...]
    city: str
    neighbourhood: str
    accepting_new_clients: bool
    fee: int
    sliding_scale: bool
    profile_url: str

    def profile_text(self) -> str:
        """What the matcher embeds: specialties, modalities and bio."""
        return (
            f"{self.name}. Works with {', '.join(s.replace('-', ' ') for s in self.specialties)}. "
            f"{', '.join(self.modalities)}. {self.bio}"
        )


@dataclass
class Directory:
    """The therapists that loaded, and the rows left out (each a Failure naming therapist and field)."""

    therapists: list[Therapist]
    directory_url: str
    sample_data: bool
    currency: str = "CAD"
    meta: dict[str, Any] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)


class RowError(ValueError):
    """One therapist row is invalid; the reason names the therapist and the field."""


def _fail(tid: str, field_name: str, reason: str) -> RowError:
    return RowError(f"therapist '{tid}': field '{field_name}' {reason}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def load_directory(path: Path, vocabulary: set[str] | None = None) -> Directory:
    """Read and validate the directory; a bad row is left out and reported in `failures`, the rest load.

    Only a file that cannot be read as a directory at all raises InputError.
    """
    path = Path(path)
    data, rows = read_yaml_list(path, "therapists", "therapist directory")
    therapists, failures, seen = [], [], set()
    for n, row in enumerate(rows, 1):
        try:
            therapist = _therapist(n, row, vocabulary)
            if therapist.id in seen:
                raise _fail(therapist.id, "id", "is used twice; give each therapist their own id")
        except RowError as exc:
            failures.append(Failure(path.name, f"{exc}; this therapist is left out until it is fixed"))
            continue
        seen.add(therapist.id)
        therapists.append(therapist)
    url = str(data.get("directory_url") or "")
    if url and not url.startswith(("https://", "http://")):
        failures.append(Failure(path.name, "field 'directory_url' must be an http(s) link; the link is left out"))
        url = ""
    return Directory(
        therapists, url, data.get("sample_data") is True, str(data.get("currency") or "CAD"), failures=failures
    )


def _therapist(n: int, row: Any, vocabulary: set[str] | None) -> Therapist:
    if not isinstance(row, dict):
        raise RowError(f"therapist #{n} must be a mapping of field: value")
    tid: str = row["id"] if isinstance(row.get("id"), str) and row["id"].strip() else f"#{n}"
    for name in ("id", "name", "credentials", "bio", "profile_url"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            raise _fail(tid, name, "is missing or not text")
    if not _ID_RE.fullmatch(row["id"]):
        raise _fail(f"#{n}", "id", f"{row['id']!r} is not a valid id (letters, digits, - _ .)")
    lists = {}
    for name in LIST_FIELDS:
        value = row.get(name)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise _fail(tid, name, "must be a non-empty list of text")
        lists[name] = tuple(value)
    if "psychodynamic" not in lists["modalities"]:
        raise _fail(tid, "modalities", "must include psychodynamic")
    if vocabulary is not None:
        unknown = [s for s in lists["specialties"] if s not in vocabulary]
        if unknown:
            raise _fail(tid, "specialties", f"has '{unknown[0]}', which is not in the topic vocabulary")
    bad = set(lists["populations"]) - POPULATIONS
    if bad:
        raise _fail(tid, "populations", f"has '{sorted(bad)[0]}' (use {', '.join(sorted(POPULATIONS))})")
    bad = set(lists["formats"]) - FORMATS
    if bad:
        raise _fail(tid, "formats", f"has '{sorted(bad)[0]}' (use in-person or online)")
    fee = row.get("fee")
    if not isinstance(fee, int) or isinstance(fee, bool) or not 0 <= fee <= MAX_FEE:
        raise _fail(tid, "fee", f"must be a whole number of dollars from 0 to {MAX_FEE} (not {_shown(fee)})")
    for name in ("accepting_new_clients", "sliding_scale"):
        if not isinstance(row.get(name), bool):
            raise _fail(tid, name, "must be true or false")
    if not row["profile_url"].startswith(("https://", "http://")):
        raise _fail(tid, "profile_url", "must be an http(s) link")
    location = row.get("location") or {}
    if not isinstance(location, dict) or not location.get("city"):
        raise _fail(tid, "location", "needs a city")
    return Therapist(
        id=row["id"],
        name=row["name"].strip(),
        pronouns=str(row.get("pronouns") or ""),
        credentials=row["credentials"].strip(),
        bio=" ".join(row["bio"].split()),
        city=str(location["city"]),
        neighbourhood=str(location.get("neighbourhood") or ""),
        accepting_new_clients=row["accepting_new_clients"],
        fee=fee,
        sliding_scale=row["sliding_scale"],
        profile_url=row["profile_url"],
        **lists,
    )


def check_directory(settings: Settings, vocabulary: set[str] | None, min_per_concern: int = 2) -> list[Failure]:
    """Problems with the directory (bad rows, a file that cannot be read, concerns with too few therapists)."""
    label = settings.therapists_file
    try:
        directory = load_directory(settings.therapists_path, vocabulary)
    except InputError as exc:
        return [Failure(label, without_path(str(exc), settings.therapists_path))]
    problems = [Failure(label, f.reason) for f in directory.failures]
    if not directory.sample_data:
        problems.append(
            Failure(label, "field 'sample_data': the shipped directory must be labelled sample data (true)")
        )
    if settings.topics_path.is_file():
        from kb.answering.topics import load_topics

        for topic in load_topics(settings.topics_path):
            if topic.kind != "concern":
                continue
            count = sum(topic.id in t.specialties for t in directory.therapists)
            if count < min_per_concern:
                problems.append(
                    Failure(label, f"topic '{topic.id}' has {count} therapists; at least {min_per_concern} needed")
                )
    return problems
