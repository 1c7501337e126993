"""The therapist directory: loading and validation (matching lives in matching.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.config import Settings
from kb.errors import InputError
from kb.ingest.data_files import read_yaml_list

POPULATIONS = {"adults", "couples", "adolescents", "families", "older adults"}
FORMATS = {"in-person", "online"}
LIST_FIELDS = ("modalities", "specialties", "populations", "languages", "formats")


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
        return (f"{self.name}. Works with {', '.join(s.replace('-', ' ') for s in self.specialties)}. "
                f"{', '.join(self.modalities)}. {self.bio}")


@dataclass
class Directory:
    therapists: list[Therapist]
    directory_url: str
    sample_data: bool
    currency: str = "CAD"
    meta: dict[str, Any] = field(default_factory=dict)


def _fail(path: Path, tid: str, field_name: str, reason: str) -> InputError:
    return InputError(f"{path.name}: therapist '{tid}': field '{field_name}' {reason}")


def load_directory(path: Path, vocabulary: set[str] | None = None) -> Directory:
    """Read and validate the directory; the first problem raises InputError naming therapist and field."""
    path = Path(path)
    data, rows = read_yaml_list(path, "therapists", "therapist directory")
    therapists, seen = [], set()
    for n, row in enumerate(rows, 1):
        therapists.append(_therapist(path, n, row, vocabulary))
        if therapists[-1].id in seen:
            raise _fail(path, therapists[-1].id, "id", "is used twice")
        seen.add(therapists[-1].id)
    url = str(data.get("directory_url") or "")
    if url and not url.startswith(("https://", "http://")):
        raise InputError(f"{path.name}: field 'directory_url' must be an http(s) link")
    return Directory(therapists, url, bool(data.get("sample_data")), str(data.get("currency") or "CAD"))


def _therapist(path: Path, n: int, row: Any, vocabulary: set[str] | None) -> Therapist:
    if not isinstance(row, dict):
        raise InputError(f"{path.name}: therapist #{n} must be a mapping of field: value")
    tid = str(row.get("id") or f"#{n}")
    for name in ("id", "name", "credentials", "bio", "profile_url"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            raise _fail(path, tid, name, "is missing or not text")
    lists = {}
    for name in LIST_FIELDS:
        value = row.get(name)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise _fail(path, tid, name, "must be a non-empty list of text")
        lists[name] = tuple(value)
    if "psychodynamic" not in lists["modalities"]:
        raise _fail(path, tid, "modalities", "must include psychodynamic")
    if vocabulary is not None:
        unknown = [s for s in lists["specialties"] if s not in vocabulary]
        if unknown:
            raise _fail(path, tid, "specialties", f"has '{unknown[0]}', which is not in the topic vocabulary")
    bad = set(lists["populations"]) - POPULATIONS
    if bad:
        raise _fail(path, tid, "populations", f"has '{sorted(bad)[0]}' (use {', '.join(sorted(POPULATIONS))})")
    bad = set(lists["formats"]) - FORMATS
    if bad:
        raise _fail(path, tid, "formats", f"has '{sorted(bad)[0]}' (use in-person or online)")
    fee = row.get("fee")
    if not isinstance(fee, int) or isinstance(fee, bool) or not 0 <= fee <= 2000:
        raise _fail(path, tid, "fee", "must be a whole number of dollars")
    for name in ("accepting_new_clients", "sliding_scale"):
        if not isinstance(row.get(name), bool):
            raise _fail(path, tid, name, "must be true or false")
    if not row["profile_url"].startswith(("https://", "http://")):
        raise _fail(path, tid, "profile_url", "must be an http(s) link")
    location = row.get("location") or {}
    if not isinstance(location, dict) or not location.get("city"):
        raise _fail(path, tid, "location", "needs a city")
    return Therapist(id=row["id"], name=row["name"].strip(), pronouns=str(row.get("pronouns") or ""),
                     credentials=row["credentials"].strip(), bio=" ".join(row["bio"].split()),
                     city=str(location["city"]), neighbourhood=str(location.get("neighbourhood") or ""),
                     accepting_new_clients=row["accepting_new_clients"], fee=fee,
                     sliding_scale=row["sliding_scale"], profile_url=row["profile_url"], **lists)


def check_directory(settings: Settings, vocabulary: set[str] | None, min_per_concern: int = 2) -> list[str]:
    """Problems with the directory, including concern topics covered by too few therapists."""
    try:
        directory = load_directory(settings.therapists_path, vocabulary)
    except InputError as exc:
        return [str(exc)]
    problems = []
    if not directory.sample_data:
        problems.append("field 'sample_data': the shipped directory must be labelled sample data (true)")
    if settings.topics_path.is_file():
        from kb.answering.topics import load_topics

        for topic in load_topics(settings.topics_path):
            if topic.kind != "concern":
                continue
            count = sum(topic.id in t.specialties for t in directory.therapists)
            if count < min_per_concern:
                problems.append(f"topic '{topic.id}' has {count} therapists; at least {min_per_concern} needed")
    return problems
