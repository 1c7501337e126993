"""Pydantic's validation errors as our one-line reasons: which field, and what it allows.

The models (settings, therapist rows, topics, front matter, golden questions) say what is allowed once, in
their types and `Field` constraints; this turns that into the words of an error message, so the message,
the documentation and the JSON Schema cannot disagree.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class Allowed:
    """What a field allows, in words, when its type and constraints do not say it well (e.g. its unit)."""

    text: str


@dataclass(frozen=True)
class Problem:
    """One field that failed: its name (or position), the value given, and the reason after "field 'x' "."""

    field: str
    value: Any
    kind: str  # pydantic's error type: missing, extra_forbidden, value_error, int_parsing, ...
    message: str  # a custom validator's own words ("" for a type or constraint error)


def problems(exc: ValidationError) -> list[Problem]:
    """Every failed field of a validation error, in the order pydantic found them."""
    found = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc") or ()
        name = str(loc[0]) if loc else ""
        ctx = error.get("ctx") or {}
        custom = str(ctx["error"]) if error["type"] in ("value_error", "assertion_error") and "error" in ctx else ""
        found.append(Problem(name, error.get("input"), error["type"], custom))
    return found


def allowed(model: type[BaseModel], name: str) -> str:
    """What field `name` of `model` allows, as words after "must be" ("a whole number from 0 to 2000")."""
    field = model.model_fields.get(name)
    return describe(field) if field is not None else "a known field"


def describe(field: FieldInfo) -> str:
    for item in field.metadata:
        if isinstance(item, Allowed):
            return item.text
    annotation = _without_none(field.annotation)
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(str(v) for v in get_args(annotation))
    if annotation is bool:
        return "true or false"
    if annotation in (int, float):
        return _number(field, "a whole number" if annotation is int else "a number")
    if annotation is Path:
        return "a path"
    if get_origin(annotation) in (list, tuple):
        return "a list of text"
    return "text"


def shown(value: Any, limit: int = 40) -> str:
    """A value for an error message: its repr, cut to `limit` characters (a hostile value can be huge)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(field: FieldInfo, kind: str) -> str:
    low = high = None
    for item in field.metadata:
        low = getattr(item, "ge", low)
        high = getattr(item, "le", high)
        if getattr(item, "gt", None) is not None:
            low = item.gt + 1 if kind == "a whole number" else item.gt
    if low is not None and high is not None:
        return f"{kind} from {low} to {high}"
    if low is not None:
        return f"{kind} of at least {low}"
    return kind


def _without_none(annotation: Any) -> Any:
    """`X | None` -> X (an optional field allows what X allows)."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation
