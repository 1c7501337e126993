"""One settings object, built at the edge: CLI flags > environment > config file > defaults."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.errors import InputError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
CONFIG_FILE = "kb.toml"

# Environment variables the settings read, and the field each one sets.
ENV_FIELDS = {
    "KB_CORPUS": "corpus",
    "KB_INDEX": "index",
    "KB_MODEL": "model",
    "KB_RERANKER": "reranker",
    "KB_ALLOW_HUB": "allow_hub",
    "KB_REGION": "region",
    "KB_FEEDBACK_DB": "feedback_db",
    "KB_DEMAND_COUNTS": "demand_counts",
    "KB_CORS_ORIGINS": "cors_origins",
    "KB_API_RATE_LIMIT": "api_rate_limit",
    "KB_QUICK_EXIT_URL": "quick_exit_url",
}


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults the shipped corpus was tuned on."""

    corpus: Path = Path("corpus")
    index: Path = Path("index")
    model: str = DEFAULT_MODEL
    allow_hub: bool = False  # let sentence-transformers reach a model hub (off: fully offline)
    max_tokens: int = 256  # chunk budget in model tokens, title/section context included
    overlap_sentences: int = 1
    batch_size: int = 32
    # Retrieval: candidates per retriever, fusion and diversity (tuned by `kb eval`).
    candidates: int = 100
    fusion: str = "convex"  # convex | rrf
    dense_weight: float = 0.8
    rrf_k: int = 60
    max_per_doc: int = 2
    reranker: str | None = None
    # Answers.
    answer_sentences: int = 4
    abstain_below: float = 0.29  # best cosine under this: nothing relevant enough (calibrated by `kb eval`)
    abstain_below_other_language: float = 0.10  # the model reads English; be lenient with French questions
    # Safety, directory and citations.
    region: str = "CA"
    practice_name: str = "Psychodynamic Therapy Collective"  # author of the library in copyable citations
    # "How do I book?" is answered with this route (empty: choose a therapist and use their profile's contact).
    booking_text: str = ""
    booking_url: str = ""  # empty: the directory's own link
    therapists_file: str = "therapists.yaml"
    topics_file: str = "topics.yaml"
    # The website: HTTP API limits, quick exit, feedback and demand counters (never a question).
    api_max_body: int = 16_384  # bytes in a POST body; more is refused with 413
    api_max_question: int = 1_000  # characters in a question sent to the API
    api_rate_limit: int = 60  # API requests per minute from one client address, in memory only (0: no limit)
    cors_origins: str = ""  # comma-separated origins allowed to call the API from their pages; none by default
    quick_exit_url: str = "https://weather.gc.ca/"  # the neutral site "Leave this site quickly" opens
    feedback_db: Path = Path("feedback/feedback.sqlite")  # feedback and demand counters, outside the index
    demand_counts: bool = True  # count topics, abstentions, crisis panels and directory questions per week

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def therapists_path(self) -> Path:
        return self.corpus / self.therapists_file

    @property
    def topics_path(self) -> Path:
        return self.corpus / self.topics_file


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: Any, source: str) -> Any:
    """Turn a config or environment value into the field's type, or say which is wrong."""
    default = _FIELDS[name].default
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(value)
        if isinstance(default, Path):
            return Path(str(value)).expanduser()
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return None if value in ("", None) else str(value)
    except (TypeError, ValueError):
        raise InputError(f"{source}: '{name}' has an invalid value {value!r}") from None


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build settings from CLI flags over environment over config file over defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(environ["KB_CONFIG"]) if environ.get("KB_CONFIG") else None)
    if path is None and Path(CONFIG_FILE).is_file():
        path = Path(CONFIG_FILE)
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"{path}: cannot read config file ({exc})") from None
        section = data.get("kb", data)
        for name, value in section.items():
            if name not in _FIELDS:
                raise InputError(f"{path}: unknown setting '{name}'")
            values[name] = _coerce(name, value, str(path))
            if isinstance(values[name], Path) and not values[name].is_absolute():
                values[name] = Path(path).parent / values[name]  # relative to the config file, not the cwd
    for var, name in ENV_FIELDS.items():
        if environ.get(var) not in (None, ""):
            values[name] = _coerce(name, environ[var], f"environment {var}")
    for name, value in (flags or {}).items():
        if value is not None:
            if name not in _FIELDS:
                raise InputError(f"unknown setting '{name}'")
            values[name] = _coerce(name, value, f"option '{name}'")
    return Settings(**values)
