"""The topic vocabulary (corpus/topics.yaml): read by the index build, the directory, answering and `kb validate`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kb.errors import InputError
from kb.ingest.data_files import read_yaml_list
from kb.validation import allowed, problems

Text = Annotated[str, Field(min_length=1, pattern=r"\S")]


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    kind: str  # concern | approach | practical
    description: str


class TopicRow(BaseModel):
    """One entry of topics.yaml as written."""

    model_config = ConfigDict(strict=True, extra="forbid", title="Topic")

    id: Text = Field(description="Used in articles' `topics`, therapists' `specialties` and the golden set.")
    label: Text = Field(description="What visitors see.")
    kind: Literal["concern", "approach", "practical"] = Field(
        default="concern", description="concern: a difficulty people bring to therapy (needs two therapists)."
    )
    description: Text = Field(description="A sentence the model embeds to recognise the topic in a question.")


class TopicsFile(BaseModel):
    """topics.yaml as a whole (for its JSON Schema)."""

    model_config = ConfigDict(extra="forbid", title="Topic vocabulary", defer_build=True)

    topics: list[TopicRow]


def load_topics(path: Path) -> list[Topic]:
    """Read and check the vocabulary; an error names the file, the entry and the field."""
    _, rows = read_yaml_list(path, "topics", "topic vocabulary")
    topics, seen = [], set()
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise InputError(f"{path}: topic #{n} must be a mapping")
        try:
            valid = TopicRow.model_validate(row)
        except ValidationError as exc:
            problem = problems(exc)[0]
            where = f"{path}: topic #{n} ({row.get('id', '?')}): field '{problem.field}'"
            if problem.kind == "extra_forbidden":
                raise InputError(f"{where} is not a topic field (use {', '.join(TopicRow.model_fields)})") from None
            if problem.field != "kind":
                raise InputError(f"{where} is missing or not text") from None
            raise InputError(f"{where} must be {allowed(TopicRow, problem.field)}") from None
        if valid.id in seen:
            raise InputError(f"{path}: topic '{valid.id}' is listed twice")
        seen.add(valid.id)
        topics.append(Topic(valid.id, valid.label, valid.kind, valid.description))
    return topics


class TopicVocabulary(Sequence[Topic]):
    """The topic vocabulary as one object: its topics in file order, their ids and their labels (built once)."""

    def __init__(self, topics: list[Topic] | None = None):
        self.topics = list(topics or [])
        self.labels = {t.id: t.label for t in self.topics}  # id -> what visitors see
        self.ids = frozenset(self.labels)

    @classmethod
    def load(cls, path: Path) -> TopicVocabulary:
        """corpus/topics.yaml, or an empty vocabulary when there is no such file (errors as load_topics)."""
        return cls(load_topics(path) if path.is_file() else [])

    @overload
    def __getitem__(self, i: int) -> Topic: ...
    @overload
    def __getitem__(self, i: slice) -> list[Topic]: ...
    def __getitem__(self, i: int | slice) -> Topic | list[Topic]:
        return self.topics[i]

    def __len__(self) -> int:
        return len(self.topics)

    def label(self, topic_id: str) -> str:
        """The label of a topic id; an id the vocabulary lacks reads as words ('grief-and-loss' -> 'grief and loss')."""
        return self.labels.get(topic_id) or topic_id.replace("-", " ")


def topic_text(topic: Topic) -> str:
    """What the model sees for a topic."""
    return f"{topic.label}: {topic.description}"
