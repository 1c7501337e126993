"""The therapist directory: loading and validation against `TherapistRow` (matching lives in matching.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from kb.config import Settings
from kb.errors import InputError
from kb.ingest.data_files import read_yaml_list, without_path
from kb.ingest.topics import load_topics
from kb.records import Failure
from kb.validation import Allowed, Problem, allowed, problems, shown

Population = Literal["adolescents", "adults", "couples", "families", "older adults"]
Format = Literal["in-person", "online"]
POPULATIONS = set(get_args(Population))
FORMATS = set(get_args(Format))
LIST_FIELDS = ("modalities", "specialties", "populations", "languages", "formats")
TEXT_FIELDS = ("id", "name", "credentials", "bio", "profile_url")
MAX_FEE = 2000  # dollars per session
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

Text = Annotated[str, Field(min_length=1, pattern=r"\S")]
TextList = Annotated[list[Text], Field(min_length=1), Allowed("a non-empty list of text")]


class Location(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    city: Text
    neighbourhood: str | None = None


class TherapistRow(BaseModel):
    """One entry of therapists.yaml as written; `load_directory` turns a valid one into a `Therapist`."""

    model_config = ConfigDict(strict=True, extra="forbid", title="Therapist")

    id: Annotated[str, Allowed("an id of letters, digits, - _ . (at most 100)")] = Field(
        description="Stable id, used in links and feedback."
    )
    name: Text = Field(description="The name visitors see.")
    credentials: Text = Field(description="Registration and degrees, e.g. RP or PhD C.Psych.")
    bio: Text = Field(description="A paragraph in the therapist's words; the matcher embeds it.")
    profile_url: Annotated[str, Field(pattern=r"^https?://\S+$"), Allowed("an http(s) link")] = Field(
        description="The therapist's profile page."
    )
    modalities: TextList = Field(description="Ways of working; must include psychodynamic.")
    specialties: TextList = Field(description="Concerns they work with: ids from the topic vocabulary (topics.yaml).")
    populations: Annotated[list[Population], Field(min_length=1)] = Field(description="Who they see.")
    languages: TextList = Field(description="Languages sessions can be held in.")
    formats: Annotated[list[Format], Field(min_length=1)] = Field(description="in-person, online or both.")
    fee: Annotated[int, Field(ge=0, le=MAX_FEE), Allowed(f"a whole number of dollars from 0 to {MAX_FEE}")] = Field(
        description="Fee per session, in the directory's currency."
    )
    accepting_new_clients: bool
    sliding_scale: bool
    location: Location = Field(description="city (required) and neighbourhood.")
    pronouns: str | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _ID_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid id (letters, digits, - _ .)")
        return value

    @field_validator("modalities")
    @classmethod
    def _psychodynamic(cls, value: list[str]) -> list[str]:
        if "psychodynamic" not in value:
            raise ValueError("must include psychodynamic")
        return value

    @field_validator("specialties")
    @classmethod
    def _in_vocabulary(cls, value: list[str], info: ValidationInfo) -> list[str]:
        vocabulary = (info.context or {}).get("vocabulary")
        unknown = [s for s in value if vocabulary is not None and s not in vocabulary]
        if unknown:
            raise ValueError(f"has '{unknown[0]}', which is not in the topic vocabulary")
        return value


class DirectoryFile(BaseModel):
    """therapists.yaml as a whole (for its JSON Schema: rows are validated one by one, so one bad row is
    left out and the rest load)."""

    model_config = ConfigDict(extra="forbid", title="Therapist directory", defer_build=True)

    sample_data: bool = Field(description="True while the therapists are fictional; the app then says so.")
    directory_url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = Field(
        default=None, description="The practice's own directory page."
    )
    currency: str = Field(default="CAD", description="Currency of the fees.")
    therapists: list[TherapistRow]


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
    try:
        valid = TherapistRow.model_validate(row, context={"vocabulary": vocabulary})
    except ValidationError as exc:
        problem = problems(exc)[0]
        written = row.get("id")
        named = problem.field != "id" and isinstance(written, str) and written.strip()
        raise _fail(str(written) if named else f"#{n}", problem.field, _reason(problem)) from None
    return Therapist(
        id=valid.id,
        name=valid.name.strip(),
        pronouns=valid.pronouns or "",
        credentials=valid.credentials.strip(),
        bio=" ".join(valid.bio.split()),
        city=valid.location.city,
        neighbourhood=valid.location.neighbourhood or "",
        accepting_new_clients=valid.accepting_new_clients,
        fee=valid.fee,
        sliding_scale=valid.sliding_scale,
        profile_url=valid.profile_url,
        **{name: tuple(getattr(valid, name)) for name in LIST_FIELDS},
    )


def _reason(problem: Problem) -> str:
    """What is wrong with one field of a row, in the words `_fail` puts after "field 'x' "."""
    name = problem.field
    if problem.kind == "extra_forbidden":
        return f"is not a directory field (the fields are {', '.join(TherapistRow.model_fields)})"
    if name == "location":
        return "needs a city"
    if problem.message:
        return problem.message
    if name in TEXT_FIELDS and not (name == "profile_url" and problem.kind == "string_pattern_mismatch"):
        return "is missing or not text"
    if problem.kind == "literal_error":
        options = sorted(POPULATIONS if name == "populations" else FORMATS)
        return f"has {problem.value!r} (use {', '.join(options[:-1])} or {options[-1]})"
    if name == "fee":
        return f"must be {allowed(TherapistRow, name)} (not {shown(problem.value)})"
    return f"must be {allowed(TherapistRow, name)}"


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
        for topic in load_topics(settings.topics_path):
            if topic.kind != "concern":
                continue
            count = sum(topic.id in t.specialties for t in directory.therapists)
            if count < min_per_concern:
                problems.append(
                    Failure(label, f"topic '{topic.id}' has {count} therapists; at least {min_per_concern} needed")
                )
    return problems
