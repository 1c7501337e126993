"""The crisis data shipped with the package (kb/data/crisis.yaml): resources by region, crisis articles.

Everything here comes from package data, never from the corpus or the index, so crisis help can be
shown when the index, the model or the directory is broken.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources as package_files
from typing import Any

import yaml

from kb.errors import KBError
from kb.records import Crisis, Resource

# Kinds in priority order when several fire; child-safety before violence so a child gets Kids Help Phone.
KINDS = ("medical", "suicide", "harm-others", "child-safety", "violence", "self-harm")
TIERS = ("urgent", "concern", "none")


def package_text(name: str) -> str:
    """A file of kb/data, as text."""
    return package_files.files("kb").joinpath(f"data/{name}").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def crisis_data() -> dict[str, Any]:
    """kb/data/crisis.yaml, parsed once."""
    try:
        data = yaml.load(package_text("crisis.yaml"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        raise KBError(f"kb/data/crisis.yaml: cannot read the crisis data ({exc}); reinstall the package") from None
    if not isinstance(data, dict) or "patterns" not in data or "resources" not in data:
        raise KBError("kb/data/crisis.yaml: expected 'resources' and 'patterns' sections; reinstall the package")
    return data


def _entries(entry: dict[str, Any], group: str, code: str) -> list[Resource]:
    return [Resource(r["name"], r["action"], code, r.get("url", "")) for r in entry.get(group) or []]


def resources_for(region: str, tier: str = "concern", kind: str | None = None) -> list[Resource]:
    """Resources for a crisis: emergency services first when the danger is urgent, young people's lines for
    a child in danger, then the crisis lines (CA, US; any other region gets general advice)."""
    regions = crisis_data()["resources"]
    code = str(region or "").strip().upper()
    code = code if code in regions else "other"
    entry = regions[code]
    emergency, helplines = _entries(entry, "emergency", code), _entries(entry, "helplines", code)
    children = _entries(entry, "child_safety", code) if kind == "child-safety" else []
    if tier == "urgent":
        return emergency + children + helplines
    return children + helplines + emergency


def crisis_resources(region: str) -> list[Resource]:
    """Crisis lines, then emergency services, for a region code (the sidebar's standing note)."""
    return resources_for(region, "concern")


def _article_entries(entries: Any) -> list[tuple[str, str]]:
    return [(str(e["doc"]), str(e.get("section") or "")) for e in entries or [] if isinstance(e, dict) and e.get("doc")]


def crisis_article_entries() -> list[tuple[str, str]]:
    """Every (article id, section) pair kb/data/crisis.yaml names, for `kb validate`."""
    return [
        pair
        for by_person in crisis_data().get("articles", {}).values()
        for entries in by_person.values()
        for pair in _article_entries(entries)
    ]


def crisis_sections() -> set[tuple[str, str]]:
    """Sections written for a person in crisis; they are never quoted to a question that is not one."""
    return {pair for pair in crisis_article_entries() if pair[1]}


def crisis_articles(crisis: Crisis) -> list[tuple[str, str]]:
    """(article id, section) pairs a crisis is answered from, best first (empty: answer as usual).

    Only for a crisis a pattern recognised: a statement the classifier alone flagged may be a false alarm
    (a trauma story, say), and then the crisis panel comes first but the answer still fits the question.
    """
    if not crisis.detected or not crisis.explicit:
        return []
    by_person = crisis_data().get("articles", {}).get(crisis.kind) or {}
    return _article_entries(by_person.get("other" if crisis.about_someone_else else "self"))


def helping_someone_else() -> list[str]:
    """Short guidance for a person worried about someone else."""
    return list(crisis_data()["helping_someone_else"])


def panel_text(tier: str, kind: str | None, about_someone_else: bool) -> str:
    """The first line of the crisis panel, by tier: urgent says act now, concern is calm."""
    messages = crisis_data().get("panel", {})
    if tier == "urgent":
        key = "urgent_other" if about_someone_else else "urgent"
    elif kind == "child-safety":
        key = "child_safety"
    elif kind == "harm-others" and not about_someone_else:
        key = "concern_harm_others"  # the writer fears hurting someone: thoughts of suicide are not theirs
    elif kind == "violence" and not about_someone_else:
        key = "concern_violence"  # someone is hurting the writer
    else:
        key = "concern_other" if about_someone_else else "concern"
    return str(messages.get(key) or messages.get("concern") or "")
