"""Article metadata: what a file may set (`FrontMatter`, checked at ingest) and what an article must have
(`Article`, checked by `kb validate`).

Front matter is YAML in Markdown, `<meta name="kb:FIELD">` in HTML and the document info of a PDF. Only
the known fields are stored, each turned into its type (text, or a list of text); an unknown field (a typo
such as `sumary`, or anything odd: a huge or nested value) is refused, so nothing unchecked reaches the index.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from kb.errors import InputError
from kb.validation import Problem, problems


def _as_text(value: Any) -> Any:
    """A YAML number or date written where text is meant (`id: 2024`, `last_reviewed: 2026-01-15`) is text."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _comma_list(value: Any) -> Any:
    """`topics: anxiety, sleep` is the list [anxiety, sleep]."""
    return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


def _one_item(value: Any) -> Any:
    """A single reference written as text is a list of one (a reference has commas of its own)."""
    return [value] if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_as_text)]
TextList = Annotated[list[Text], BeforeValidator(_comma_list)]
References = Annotated[list[Text], BeforeValidator(_one_item)]
AUDIENCES = ("public", "clinician")


class FrontMatter(BaseModel):
    """The metadata fields a corpus file may set, each optional; what is given is stored with the document."""

    model_config = ConfigDict(strict=True, extra="forbid", title="Front matter", defer_build=True)

    id: Text | None = Field(default=None, description="Stable id (letters, digits, - _ . /); default: the file's path.")
    title: Text | None = Field(default=None, description="Default: the first heading.")
    summary: Text | None = Field(default=None, description="One or two sentences: what the article covers.")
    topics: TextList | None = Field(default=None, description="Ids from the topic vocabulary (topics.yaml).")
    audience: Text | None = Field(default=None, description="public or clinician.")
    last_reviewed: Text | None = Field(default=None, description="Date of the last clinical review (YYYY-MM-DD).")
    reviewed_by: Text | None = Field(default=None, description="Who reviewed it.")
    references: References | None = Field(default=None, description="Sources, one APA reference each.")
    related: TextList | None = Field(default=None, description="Ids of related articles.")
    url: Text | None = Field(default=None, description="Where the article is published, if anywhere.")


class Article(FrontMatter):
    """A Markdown article's front matter, as `kb validate` wants it: every field given, each value allowed."""

    model_config = ConfigDict(title="Article front matter", defer_build=True)

    id: Text = Field(description="Stable id (letters, digits, - _ . /).")
    title: Text
    summary: Annotated[Text, Field(min_length=1)]
    topics: Annotated[TextList, Field(min_length=1)]
    audience: Literal["public", "clinician"]
    last_reviewed: Annotated[Text, Field(json_schema_extra={"format": "date"})]
    reviewed_by: Annotated[Text, Field(min_length=1)]
    references: Annotated[References, Field(min_length=1)]
    related: Annotated[TextList, Field(min_length=1)]

    @field_validator("last_reviewed")
    @classmethod
    def _a_date(cls, value: str) -> str:
        try:
            dt.date.fromisoformat(value[:10])
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        return value


def read_front_matter(meta: dict[Any, Any]) -> dict[str, Any]:
    """Only the known fields, each checked and turned into its type; raises InputError naming the field."""
    given = {str(k): v for k, v in meta.items() if v is not None}
    try:
        return FrontMatter.model_validate(given).model_dump(exclude_none=True)
    except ValidationError as exc:
        problem = problems(exc)[0]
        if problem.kind == "extra_forbidden":
            raise InputError(
                f"field '{problem.field}': not a front matter field (use {', '.join(FrontMatter.model_fields)})"
            ) from None
        kind = FrontMatter.model_fields[problem.field].annotation
        what = "a list of text" if "list" in str(kind) else "text"
        raise InputError(f"field '{problem.field}': must be {what}") from None


def article_problems(meta: dict[str, Any], complete: bool) -> list[str]:
    """What is wrong with an article's metadata, one line a field; complete: every field must be given."""
    try:
        Article.model_validate(meta)
    except ValidationError as exc:
        found: dict[str, str] = {}
        for problem in problems(exc):
            reason = _article_reason(problem, meta)
            if reason and (complete or not reason.endswith("is missing or empty")):
                found.setdefault(problem.field, reason)
        return list(found.values())
    return []


def _article_reason(problem: Problem, meta: dict[str, Any]) -> str:
    name = problem.field
    if problem.kind in ("missing", "too_short", "string_too_short"):
        return f"field '{name}' is missing or empty"
    if problem.kind == "literal_error":
        return f"field '{name}': {meta.get(name)!r} is not one of {', '.join(AUDIENCES)}"
    if problem.message:
        return f"field '{name}': {problem.message}"
    return f"field '{name}': must be text"
