"""JSON Schemas of the files people write, generated from the models that validate them.

They are committed in kb/data/schemas/ (for editors, reviewers and other tools; `make schemas` rewrites them)
and a test keeps them equal to what the models generate, so the documentation cannot drift from the checks.
`kb validate` checks the same files through the models themselves, which give the one-line messages.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SCHEMA_DIR = Path(__file__).parent / "data" / "schemas"
# name -> (module, model) for every file format a person writes.
MODELS = {
    "settings": ("kb.config", "Settings"),  # kb.toml's [kb] table
    "therapists": ("kb.directory.therapists", "DirectoryFile"),  # corpus/therapists.yaml
    "topics": ("kb.ingest.topics", "TopicsFile"),  # corpus/topics.yaml
    "front-matter": ("kb.ingest.front_matter", "Article"),  # a Markdown article's front matter
    "golden": ("kb.evaluation.golden_set", "GoldenFile"),  # tests/eval/questions.yaml
}


def generated_schemas() -> dict[str, dict[str, Any]]:
    """name -> the JSON Schema its model generates now."""
    out = {}
    for name, (module, attr) in MODELS.items():
        model: type[BaseModel] = getattr(importlib.import_module(module), attr)
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
        out[name] = schema
    return out


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schemas(folder: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema to folder/<name>.schema.json; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, schema in generated_schemas().items():
        path = folder / f"{name}.schema.json"
        path.write_text(schema_text(schema), encoding="utf-8")
        paths.append(path)
    return paths


def stale_schemas(folder: Path = SCHEMA_DIR) -> list[str]:
    """Names whose committed schema is missing or differs from the generated one."""
    stale = []
    for name, schema in generated_schemas().items():
        path = folder / f"{name}.schema.json"
        if not path.is_file() or path.read_text(encoding="utf-8") != schema_text(schema):
            stale.append(name)
    return stale


if __name__ == "__main__":
    for written in write_schemas():
        print(written.relative_to(Path.cwd()) if written.is_relative_to(Path.cwd()) else written)
