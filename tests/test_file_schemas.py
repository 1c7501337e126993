"""The JSON Schemas of the files people write: committed, equal to what the models generate, and in
agreement with the models on the shipped files and on a bad value."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from kb.file_schemas import MODELS, SCHEMA_DIR, generated_schemas, schema_text, stale_schemas, write_schemas
from kb.ingest.loaders import split_front_matter

REPO = Path(__file__).resolve().parent.parent


def committed(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


def plain(data):
    """YAML's dates as the text they were written as, so a JSON Schema validator can read the data."""
    return json.loads(json.dumps(data, default=str))


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = committed(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_committed_schemas_are_the_generated_ones():
    assert stale_schemas() == [], "a model changed: run `make schemas` and commit kb/data/schemas/"
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json")) == sorted(f"{n}.schema.json" for n in MODELS)


def test_a_changed_model_makes_its_schema_stale(tmp_path):
    write_schemas(tmp_path)
    assert stale_schemas(tmp_path) == []
    schema = generated_schemas()["topics"]
    schema["description"] = "edited by hand"
    (tmp_path / "topics.schema.json").write_text(schema_text(schema), encoding="utf-8")
    assert stale_schemas(tmp_path) == ["topics"]


@pytest.mark.parametrize(
    "name, path",
    [
        ("therapists", "corpus/therapists.yaml"),
        ("topics", "corpus/topics.yaml"),
        ("golden", "tests/eval/questions.yaml"),
    ],
)
def test_the_shipped_data_files_match_their_schema(name, path):
    data = plain(yaml.safe_load((REPO / path).read_text(encoding="utf-8")))
    assert [e.message for e in validator(name).iter_errors(data)] == []


def test_every_shipped_article_matches_the_front_matter_schema():
    check = validator("front-matter")
    articles = sorted((REPO / "corpus" / "articles").glob("*.md"))
    assert len(articles) >= 40
    for path in articles:
        meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
        assert [e.message for e in check.iter_errors(plain(meta))] == [], path.name


def test_the_schema_refuses_what_the_model_refuses():
    data = plain(yaml.safe_load((REPO / "corpus" / "therapists.yaml").read_text(encoding="utf-8")))
    data["therapists"][0]["fee"] = 5000
    data["therapists"][1]["formats"] = ["telepathy"]
    data["therapists"][2]["email"] = "x@example.org"
    errors = sorted(validator("therapists").iter_errors(data), key=lambda e: list(e.absolute_path))
    assert [list(e.absolute_path)[:2] for e in errors] == [["therapists", 0], ["therapists", 1], ["therapists", 2]]


def test_the_settings_schema_describes_kb_toml():
    schema = committed("settings")
    assert schema["additionalProperties"] is False
    assert schema["properties"]["fusion"]["enum"] == ["convex", "rrf"]
    assert schema["properties"]["dense_weight"]["maximum"] == 1
    assert all(p.get("description") for p in schema["properties"].values())
    assert list(validator("settings").iter_errors({"region": "ON"}))
