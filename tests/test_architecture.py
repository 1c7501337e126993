"""The layout docs/ARCHITECTURE.md describes is the one the code has: its import table, and imports at the top."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KB = REPO / "kb"
ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"
# What every folder may import ("base" in the table): settings, records, errors, validation messages, the version.
BASE = ("kb.config", "kb.records", "kb.errors", "kb.validation", "kb.__version__")
STAGES = ("ingest", "models", "index", "retrieval", "safety", "directory", "answering")  # "every stage folder"
# kb/__init__.py re-exports the public names and kb/__main__.py runs the command: neither is a row of the table.
ENTRY_POINTS = ("__init__.py", "__main__.py")

# Imports of kb modules that must stay inside a function, with the reason; every other one is at the top.
# (Heavy third-party libraries are imported lazily inside the kb module that needs them, not here.)
_SERVER_START = "the app's server imports this module before it listens; the library loads in the warm-up thread"
INNER_KB_IMPORTS_ALLOWED: dict[tuple[str, str], str] = {
    ("app.py", "kb.web.views"): _SERVER_START,
    **{
        ("kb/web/api.py", name): _SERVER_START
        for name in (
            "kb.directory.matching.TherapistFilters",
            "kb.directory.matching.filter_therapists",
            "kb.safety.crisis_resources",
            "kb.web.schemas.openapi_document",
            "kb.retrieval.searcher.article_url",
        )
    },
}


def python_files() -> list[Path]:
    return sorted([*KB.rglob("*.py"), REPO / "app.py", *(REPO / "pages").glob("*.py")])


def kb_imports(tree: ast.AST) -> list[tuple[ast.stmt, list[str]]]:
    """Each import statement of a kb module, with what it imports as dotted names ("kb.config.Settings")."""
    found: list[tuple[ast.stmt, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name == "kb" or a.name.startswith("kb.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            module = node.module
            names = [f"{module}.{a.name}" for a in node.names] if module == "kb" or module.startswith("kb.") else []
        elif isinstance(node, ast.ImportFrom):  # a relative import: we write absolute ones
            names = [f"(relative) {node.module}"]
        else:
            continue
        if names:
            found.append((node, names))
    return found


def inner_kb_imports(path: Path) -> list[tuple[str, int, str]]:
    """(function, line, module) of every kb import inside a function of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inner = []
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for node, names in kb_imports(function):
                inner.append((getattr(function, "name", "<lambda>"), node.lineno, names[0]))
    return sorted(set(inner), key=lambda found: found[1])  # a nested function's import is found once


def test_kb_is_imported_at_the_top_of_each_module_never_inside_a_function():
    found = []
    for path in python_files():
        where = str(path.relative_to(REPO))
        for function, line, name in inner_kb_imports(path):
            if (where, name) not in INNER_KB_IMPORTS_ALLOWED:
                found.append(f"{where}:{line} in {function}(): {name}")
    assert found == [], "move these imports to the top of their module:\n" + "\n".join(found)


def test_the_inner_import_check_finds_one(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    if True:\n        from kb.config import Settings\n    return Settings\n")
    assert inner_kb_imports(sample) == [("f", 3, "kb.config.Settings")]
    sample.write_text("from kb.config import Settings\n\n\ndef f():\n    import json\n")
    assert inner_kb_imports(sample) == []


# The table "What each folder owns and may import"


def unit_of(path: Path) -> str:
    """The table row a kb file belongs to: its folder ("kb.index") or, at the top, its module ("kb.cli")."""
    parts = path.relative_to(KB).with_suffix("").parts
    return f"kb.{parts[0]}"


def table_rows() -> dict[str, str]:
    """Row name ("kb.ingest", "kb.cli") -> its "may import" cell, from docs/ARCHITECTURE.md."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## What each folder owns and may import", 1)[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`").removesuffix("/").removesuffix(".py")
        rows[f"kb.{name}"] = cells[2]
    return rows


def allowed_by(cell: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A "may import" cell as (allowed prefixes, excluded prefixes); remarks in parentheses are not rules."""
    rule = re.sub(r"\([^)]*\)", "", cell)
    named = tuple(f"kb.{name}" for name in re.findall(r"`([\w.]+)`", rule))
    if rule.strip().startswith("everything except"):
        return ("kb",), named
    if rule.strip() == "everything":
        return ("kb",), ()
    if rule.strip() == "every stage folder":
        return BASE + tuple(f"kb.{s}" for s in STAGES), ()
    assert rule.strip().startswith("base"), f"cannot read the rule {cell!r}"
    return BASE + named, ()


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def imports_by_unit() -> dict[str, list[tuple[str, str]]]:
    """Row name -> (file:line, imported name) of every kb import from outside the row."""
    out: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(KB.rglob("*.py")):
        if path.parent == KB and path.name in ENTRY_POINTS:
            continue
        unit = unit_of(path)
        for node, names in kb_imports(ast.parse(path.read_text(encoding="utf-8"))):
            for name in names:
                if not under(name, (unit,)):
                    out.setdefault(unit, []).append((f"{path.relative_to(REPO)}:{node.lineno}", name))
    return out


def test_every_folder_and_top_module_of_kb_has_a_row_and_every_row_exists():
    units = {unit_of(p) for p in KB.rglob("*.py") if not (p.parent == KB and p.name in ENTRY_POINTS)}
    base_modules = {b for b in BASE if b != "kb.__version__"}
    assert set(table_rows()) == units - base_modules


def test_the_base_modules_import_only_each_other():
    crossing = [
        f"{where}: {name}"
        for unit, found in imports_by_unit().items()
        if unit in BASE
        for where, name in found
        if not under(name, BASE)
    ]
    assert crossing == []


def test_every_import_is_one_the_architecture_table_allows():
    rows = table_rows()
    crossing = []
    for unit, found in imports_by_unit().items():
        if unit in BASE:
            continue
        rule = rows.get(unit, "base (no row)")
        allowed, excluded = allowed_by(rule)
        for where, name in found:
            if not under(name, allowed) or under(name, excluded):
                crossing.append(f"{where}: {unit} imports {name}, but may import {rule!r}")
    assert crossing == [], "docs/ARCHITECTURE.md's table and the code disagree:\n" + "\n".join(crossing)


@pytest.mark.parametrize(
    "cell, name, ok",
    [
        ("base", "kb.config.Settings", True),
        ("base", "kb.index.store.Index", False),
        ("base, `index.store` (the loaded `Index`), `models`", "kb.index.store.Index", True),
        ("base, `index.store` (the loaded `Index`), `models`", "kb.index.build.build_index", False),
        ("base, `index.store` (the loaded `Index`), `models`", "kb.models.embedders.Embedder", True),
        ("everything except `web` and `cli`", "kb.knowledge_base.KnowledgeBase", True),
        ("everything except `web` and `cli`", "kb.web.views", False),
        ("every stage folder", "kb.evaluation.bench", False),
    ],
)
def test_the_table_rules_are_read_as_written(cell, name, ok):
    allowed, excluded = allowed_by(cell)
    assert (under(name, allowed) and not under(name, excluded)) is ok
