"""Reading YAML (front matter and the data files: topics, therapist directory, golden set) safely.

Aliases (`*name`) are refused: nine nested levels of `&x [*y, ...]` parse in milliseconds but expand to
hundreds of millions of items when the value is used or written out (an "alias bomb"). None of our files
needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kb.errors import InputError


class AliasError(yaml.YAMLError):
    """A YAML alias (*name) in a file we read; refused before it can expand."""

    def __init__(self, line: int):
        super().__init__(f"YAML aliases (*name) are not allowed (line {line}); write the value out")
        self.line = line


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases (so no alias bomb can expand)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise AliasError(self.peek_event().start_mark.line + 1)
        return super().compose_node(parent, index)


# libyaml's safe loader when PyYAML was built with it: 5-20x faster than the Python one (the directory took
# 140 ms of a fresh process's first answer). Its composer is C, so aliases are refused from its events.
_CSafeLoader = getattr(yaml, "CSafeLoader", None)


def load_yaml(text: str) -> Any:
    """Parse YAML text with safe types only and no aliases; raises yaml.YAMLError (AliasError for an alias)."""
    if _CSafeLoader is None:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    for event in yaml.parse(text, Loader=_CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise AliasError(event.start_mark.line + 1 if event.start_mark else 0)
    return yaml.load(text, Loader=_CSafeLoader)  # noqa: S506 - libyaml's SafeLoader


def read_yaml_list(path: Path, key: str, what: str, bare_list: bool = False) -> tuple[dict[str, Any], list[Any]]:
    """The file's top-level mapping and its `key:` list (or, with bare_list, a file that is just a list)."""
    try:
        data = load_yaml(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except AliasError as exc:
        raise InputError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError(
            f"{path}: cannot read the {what}: invalid YAML{where} (check indentation, brackets and quotes)"
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: cannot read the {what}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or type(exc).__name__})") from None
    if bare_list and isinstance(data, list):
        return {}, data
    rows = data.get(key) if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise InputError(f"{path}: expected a '{key}:' list")
    return data, rows


def without_path(message: str, path: Path) -> str:
    """An InputError's message without its leading "PATH: ", for a report that names the file itself."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
