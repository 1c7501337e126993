"""The golden set's file (tests/eval/questions.yaml): one `GoldenItem` a question, validated as it is read."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from kb.errors import InputError
from kb.ingest.data_files import read_yaml_list
from kb.validation import problems

KINDS = ("answerable", "near-miss", "off-topic", "crisis")
Text = Annotated[str, Field(min_length=1, pattern=r"\S")]


@dataclass(config=ConfigDict(extra="ignore", title="Golden question"))
class GoldenItem:
    """One golden question; fields the loader does not know (a reviewer's notes) are ignored."""

    id: Text
    question: Text
    kind: Literal["answerable", "near-miss", "off-topic", "crisis"]
    expected_articles: list[str] = field(default_factory=list)  # article ids that answer it, best first
    expected_topics: list[str] = field(default_factory=list)  # topic ids, from corpus/topics.yaml
    style: str = ""  # answerable and near-miss: visitor, keyword, typo, french, clinician, ...
    crisis_type: str = ""

    @property
    def should_answer(self) -> bool:
        return self.kind in ("answerable", "near-miss")


class GoldenFile(BaseModel):
    """questions.yaml as a whole (for its JSON Schema; a bare list of questions is read too)."""

    model_config = ConfigDict(title="Golden set", defer_build=True)

    questions: list[GoldenItem]


_ITEM = TypeAdapter(GoldenItem)


def load_golden(path: Path) -> list[GoldenItem]:
    """Read tests/eval/questions.yaml; a bad question is one InputError naming the file, question and field."""
    _, rows = read_yaml_list(path, "questions", "golden set", bare_list=True)
    items = []
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not all(row.get(k) for k in ("id", "question", "kind")):
            raise InputError(f"{path}: question #{n} needs an id, a question and a kind")
        try:
            items.append(_ITEM.validate_python(row))
        except ValidationError as exc:
            name = problems(exc)[0].field
            where = f"{path}: question {row['id']!r}"
            if name == "kind":
                raise InputError(f"{where}: kind {row['kind']!r} is not one of {', '.join(KINDS)}") from None
            what = "a list of text" if name.startswith("expected_") else "text"
            raise InputError(f"{where}: field '{name}' must be {what}") from None
    return items
