"""Reading the YAML data files (topics, therapist directory, golden set) with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kb.errors import InputError


def read_yaml_list(path: Path, key: str, what: str, bare_list: bool = False) -> tuple[dict[str, Any], list[Any]]:
    """The file's top-level mapping and its `key:` list (or, with bare_list, a file that is just a list)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the {what} ({type(exc).__name__})") from None
    if bare_list and isinstance(data, list):
        return {}, data
    rows = data.get(key) if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise InputError(f"{path}: expected a '{key}:' list")
    return data, rows
