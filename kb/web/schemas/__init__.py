"""The committed JSON Schemas of the API's responses (one file each) and the OpenAPI document built on them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from kb import __version__

FOLDER = Path(__file__).parent
RESPONSES = ("health", "ask", "search", "feedback", "therapists", "article", "error")

_FILTERS = {
    "topic": {"type": "string"},
    "language": {"type": "string", "example": "French"},
    "format": {"enum": ["online", "in-person"]},
    "accepting": {"type": "boolean"},
    "max_fee": {"type": "integer"},
    "sliding_scale": {"type": "boolean"},
    "population": {"enum": ["adults", "couples", "adolescents", "families", "older adults"]},
}
_AUDIENCE = {"enum": ["public", "clinician", None]}
REQUESTS = {
    "ask": {
        "type": "object",
        "required": ["question"],
        "additionalProperties": True,
        "properties": {
            "question": {"type": "string", "minLength": 1, "description": "Sent only in the body, never in a URL."},
            "topics": {"type": "array", "items": {"type": "string"}},
            "audience": _AUDIENCE,
            "filters": {"type": "object", "properties": _FILTERS, "additionalProperties": False},
        },
    },
    "search": {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "minLength": 1},
            "k": {"type": "integer", "minimum": 1, "maximum": 50},
            "mode": {"enum": ["hybrid", "dense", "bm25"]},
            "topics": {"type": "array", "items": {"type": "string"}},
            "audience": _AUDIENCE,
        },
    },
    "feedback": {
        "type": "object",
        "required": ["kind", "helpful"],
        "additionalProperties": True,
        "properties": {
            "kind": {"enum": ["answered", "abstained", "crisis"]},
            "helpful": {"type": "boolean"},
            "chunk_ids": {
                "type": "array",
                "items": {"type": "string"},
                "maxItems": 20,
                "description": "The chunk_id of each citation of the rated answer.",
            },
        },
    },
}


@cache
def response_schema(name: str) -> dict[str, Any]:
    """The committed JSON Schema of one response body (health, ask, search, ...)."""
    return json.loads((FOLDER / f"{name}.json").read_text(encoding="utf-8"))


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 for /api/v1, its response schemas read from the committed files."""

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    def replies(name: str, ok: int = 200) -> dict[str, Any]:
        out = {str(ok): {"description": "OK", "content": {"application/json": {"schema": ref(name)}}}}
        for code, why in (
            ("400", "Bad JSON or a bad field (one line, never the question)"),
            ("413", "Body too large"),
            ("415", "Not JSON"),
            ("429", "Too many requests"),
            ("503", "The library is not ready"),
        ):
            out[code] = {"description": why, "content": {"application/json": {"schema": ref("error")}}}
        return out

    def post(name: str, summary: str, ok: int = 200) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "requestBody": {"required": True, "content": {"application/json": {"schema": REQUESTS[name]}}},
                "responses": replies(name, ok),
            }
        }

    filters = [{"name": n, "in": "query", "required": False, "schema": s} for n, s in _FILTERS.items()]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Psychoeducation library API",
            "version": __version__,
            "description": "Answers quoted from the library, crisis resources first. Questions are never "
            "stored or logged; send them only in POST bodies.",
        },
        "paths": {
            "/api/v1/health": {"get": {"summary": "Is the library loaded?", "responses": replies("health")}},
            "/api/v1/ask": post("ask", "Answer a question (the JSON of `kb ask --json`)"),
            "/api/v1/search": post("search", "Ranked passages (the JSON of `kb search --json`)"),
            "/api/v1/feedback": post("feedback", "Record whether an answer helped", 201),
            "/api/v1/therapists": {
                "get": {
                    "summary": "The therapist directory, filtered (as `kb therapists`)",
                    "parameters": filters,
                    "responses": replies("therapists"),
                }
            },
            "/api/v1/articles/{doc_id}": {
                "get": {
                    "summary": "One article",
                    "parameters": [{"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        **replies("article"),
                        "404": {
                            "description": "No such article",
                            "content": {"application/json": {"schema": ref("error")}},
                        },
                    },
                }
            },
        },
        "components": {"schemas": {name: response_schema(name) for name in RESPONSES}},
    }
