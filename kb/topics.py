"""The topic vocabulary (corpus/topics.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import InputError


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    kind: str  # concern | approach | practical
    description: str


def load_topics(path: Path) -> list[Topic]:
    """Read and check the vocabulary; an error names the file, the entry and the field."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: topic vocabulary not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read topics ({type(exc).__name__})") from None
    rows = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise InputError(f"{path}: expected a 'topics:' list")
    topics, seen = [], set()
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise InputError(f"{path}: topic #{n} must be a mapping")
        for field in ("id", "label", "description"):
            if not isinstance(row.get(field), str) or not row[field].strip():
                raise InputError(f"{path}: topic #{n} ({row.get('id', '?')}): field '{field}' is missing")
        if row["id"] in seen:
            raise InputError(f"{path}: topic '{row['id']}' is listed twice")
        seen.add(row["id"])
        topics.append(Topic(row["id"], row["label"], str(row.get("kind", "concern")), row["description"]))
    return topics
