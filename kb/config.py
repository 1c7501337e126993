"""One settings object, built at the edge: CLI flags > environment > config file > defaults.

`Settings` is a frozen pydantic-settings model: each field's type and constraints say what it allows, and a
bad value from any source is refused with one line naming the source (file, environment variable or
option), the setting and what it allows. `load_settings` layers the sources through pydantic-settings'
own machinery (`settings_customise_sources`): the keyword arguments (options) over `EnvironmentSource` (the
KB_* variables) over `ConfigFileSource` (kb.toml, its relative paths resolved against the file) over the
defaults. Constructed directly in code, `Settings(...)` is its arguments over the defaults and reads no
environment, so library code and tests get the same settings wherever they run.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from kb.errors import InputError
from kb.validation import Allowed, allowed, problems, shown

DEFAULT_MODEL = "all-MiniLM-L6-v2"
CONFIG_FILE = "kb.toml"
# The regions kb/data/crisis.yaml has resources for (a test keeps the two equal): a region with none would
# show a visitor in crisis general advice instead of their crisis lines, so it is refused instead.
REGIONS = ("CA", "US", "other")
Region = Literal["CA", "US", "other"]

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

_LINK = r"^https?://\S+$"
_AN_HTTP_LINK = Allowed("an http(s) link such as https://weather.gc.ca/")
_EXIT_LINK = r"^(?:https?://[^\s\"'<>\\]+|about:blank)$"  # about:blank: a page that loads nothing (tests, kiosks)
_AN_EXIT_LINK = Allowed("an http(s) link such as https://weather.gc.ca/, or about:blank")
Count = Annotated[int, Field(ge=1)]
Cosine = Annotated[float, Field(ge=-1, le=1)]  # a similarity threshold


@dataclass
class _Layers:
    """What one `load_settings` call layers under its options, and what each source gave (to blame a value)."""

    environ: Mapping[str, str]
    config_file: Path | None
    given: dict[str, dict[str, Any]] = field(default_factory=dict)  # source label -> the values it set


# Set only while `load_settings` builds a Settings: then the environment and the file are sources too.
_LAYERS: ContextVar[_Layers | None] = ContextVar("kb_settings_layers", default=None)


class Settings(BaseSettings):
    """Everything configurable, with the defaults the shipped corpus was tuned on."""

    # A bad value raises a one-line InputError however the settings are made: by `load_settings` (naming the
    # file, variable or option), by `replace` or by constructing them in code ("setting 'x' ...").

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=False)

    corpus: Path = Field(
        default=Path("corpus"), description="The corpus folder: articles, handouts and the data files."
    )
    index: Path = Field(
        default=Path("index"), description="Where `kb index` writes the index (builds and the live one)."
    )
    model: str = Field(default=DEFAULT_MODEL, min_length=1, description="The embedding model: bundled name or a path.")
    allow_hub: bool = Field(
        default=False, description="Let sentence-transformers download from a model hub (off: offline)."
    )
    max_tokens: Annotated[int, Field(ge=16, le=8192)] = Field(
        default=256, description="Chunk budget in model tokens, title and section context included."
    )
    overlap_sentences: Annotated[int, Field(ge=0, le=20)] = Field(
        default=1, description="Sentences repeated between chunks."
    )
    batch_size: Count = Field(default=32, description="Texts embedded per model call.")
    # Retrieval: candidates per retriever, fusion and diversity (tuned by `kb eval`).
    candidates: Count = Field(default=100, description="Candidates each retriever (BM25, dense) passes to fusion.")
    fusion: Literal["convex", "rrf"] = Field(
        default="convex", description="convex: weighted cosine and scaled BM25; rrf: reciprocal rank fusion."
    )
    dense_weight: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.8, description="Convex fusion: the weight of the dense score (BM25 gets the rest)."
    )
    rrf_k: Count = Field(default=60, description="Reciprocal rank fusion's k.")
    max_per_doc: Annotated[int, Field(ge=0)] = Field(
        default=2, description="Passages per article in results (0: no limit)."
    )
    reranker: str | None = Field(
        default=None, description="A cross-encoder (path or name) to rerank with; none by default."
    )
    # Answers.
    answer_sentences: Count = Field(default=4, description="Sentences quoted in an answer, at most.")
    abstain_below: Cosine = Field(
        default=0.29,
        description="Best cosine under this: nothing relevant enough, so no answer (calibrated by `kb eval`).",
    )
    abstain_below_other_language: Cosine = Field(
        default=0.10, description="The same for a question in another language (the model reads English; be lenient)."
    )
    abstain_topic_below: Cosine = Field(
        default=0.12,
        description="Best cosine with a topic description under this: about none of our topics, so no answer "
        "(calibrated on the off-topic train and dev splits and counsel-chat's train part).",
    )
    abstain_topic_below_other_language: Cosine = Field(
        default=0.08, description="The same for a question in another language."
    )
    faq_answer_above: Cosine = Field(
        default=0.82,
        description="A question heading at least this close to the question (cosine): its section's opening is the "
        "answer (calibrated on hand-labelled train pairs).",
    )
    faq_lead_above: Cosine = Field(
        default=0.75,
        description="The same for the opening question of a longer message ('How do I get over a breakup? We were "
        "together five years ...'), whose story would pull the whole message away from the heading (chosen on "
        "counsel-chat train questions labelled by section fit).",
    )
    # Safety, directory and citations.
    region: Region = Field(default="CA", description="Whose crisis lines to show: CA, US or other (general advice).")
    practice_name: str = Field(
        default="Psychodynamic Therapy Collective", description="Author of the library in copyable citations."
    )
    booking_text: str = Field(
        default="", description='"How do I book?" is answered with this (empty: choose a therapist, use their contact).'
    )
    booking_url: Annotated[str, Field(pattern=r"^(https?://\S+)?$"), Allowed("an http(s) link, or empty")] = Field(
        default="", description="The booking link (empty: the directory's own link)."
    )
    therapists_file: str = Field(default="therapists.yaml", min_length=1, description="The directory, in the corpus.")
    topics_file: str = Field(default="topics.yaml", min_length=1, description="The topic vocabulary, in the corpus.")
    # The website: HTTP API limits, quick exit, feedback and demand counters (never a question).
    api_max_body: Count = Field(default=16_384, description="Bytes in an API POST body; more is refused with 413.")
    api_max_question: Count = Field(default=1_000, description="Characters in a question sent to the API.")
    api_rate_limit: Annotated[int, Field(ge=0)] = Field(
        default=60, description="API requests per minute from one client address, in memory only (0: no limit)."
    )
    cors_origins: str = Field(
        default="", description="Comma-separated origins allowed to call the API; none by default."
    )
    quick_exit_url: Annotated[str, Field(pattern=_EXIT_LINK), _AN_EXIT_LINK] = Field(
        default="https://weather.gc.ca/", description='The neutral site "Leave this site quickly" opens.'
    )
    feedback_db: Path = Field(
        default=Path("feedback/feedback.sqlite"), description="Feedback and demand counters, outside the index."
    )
    demand_counts: bool = Field(
        default=True, description="Count topics, abstentions, crisis panels and directory questions per week."
    )

    @field_validator("region", mode="before")
    @classmethod
    def _region_code(cls, value: Any) -> Any:
        text = str(value).strip() if isinstance(value, str) else value
        return text.upper() if isinstance(text, str) and text.upper() in ("CA", "US") else text

    @field_validator("reranker", mode="before")
    @classmethod
    def _no_reranker(cls, value: Any) -> Any:
        return None if value == "" else value

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _input_error(exc, values) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Options over KB_* variables over the config file (in `load_settings`); in code, the arguments only."""
        layers = _LAYERS.get()
        if layers is None:
            return (init_settings,)
        return (
            init_settings,
            EnvironmentSource(settings_cls, layers),
            ConfigFileSource(settings_cls, layers),
        )

    def replace(self, **changes: Any) -> Settings:
        """A copy with these fields changed (None leaves a field as it is), validated like any settings."""
        given = {k: v for k, v in changes.items() if v is not None}
        return Settings(**(self.model_dump() | given))

    @property
    def therapists_path(self) -> Path:
        return self.corpus / self.therapists_file

    @property
    def topics_path(self) -> Path:
        return self.corpus / self.topics_file


_FIELDS = Settings.model_fields


def _input_error(exc: ValidationError, options: Mapping[str, Any]) -> InputError:
    """One line naming the source of the first bad value, the setting and what it allows."""
    problem = problems(exc)[0]
    if problem.kind == "extra_forbidden":
        return InputError(f"unknown setting '{problem.field}'")
    layers = _LAYERS.get()
    source = "setting"
    if layers is not None:  # the highest source that set the field is the one its value came from
        sources = {**{f"option '{name}'": {name: value} for name, value in options.items()}, **layers.given}
        source = next((label for label, values in sources.items() if problem.field in values), "setting")
    prefix = f"{source}: '{problem.field}'" if source != "setting" else f"setting '{problem.field}'"
    return InputError(
        f"{prefix} has an invalid value {shown(problem.value)}: must be {allowed(Settings, problem.field)}"
    )


class _LayerSource(PydanticBaseSettingsSource):
    """A source of one `load_settings` call; it records what it gave, so an error can name where a value came from."""

    def __init__(self, settings_cls: type[BaseSettings], layers: _Layers):
        super().__init__(settings_cls)
        self.layers = layers

    def labelled(self) -> dict[str, dict[str, Any]]:
        """The values this source sets, under the label an error message names them by."""
        raise NotImplementedError

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for label, values in self.labelled().items():
            self.layers.given[label] = values
            found |= values
        return found


class EnvironmentSource(_LayerSource):
    """The KB_* variables of ENV_FIELDS that are set and not empty (paths expanded, relative to the cwd)."""

    def labelled(self) -> dict[str, dict[str, Any]]:
        environ = self.layers.environ
        return {
            f"environment {var}": {name: _expanded(name, environ[var])}
            for var, name in ENV_FIELDS.items()
            if environ.get(var) not in (None, "")
        }


class ConfigFileSource(_LayerSource):
    """The settings file (an explicit one, KB_CONFIG or ./kb.toml), its relative paths relative to the file."""

    def labelled(self) -> dict[str, dict[str, Any]]:
        path = self.layers.config_file
        return {str(path): _read_config(path)} if path is not None else {}


def _expanded(name: str, value: Any) -> Any:
    """A path setting's value as a Path with ~ expanded; any other value as it is."""
    if _FIELDS[name].annotation is Path and isinstance(value, str | Path):
        return Path(value).expanduser()
    return value


def _read_config(path: Path) -> dict[str, Any]:
    """The settings a config file sets, with its relative paths made relative to the file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read config file ({exc})") from None
    section = data.get("kb", data)
    if not isinstance(section, dict):
        raise InputError(f"{path}: 'kb' must be a table of settings ([kb] with one name = value a line)")
    values = {}
    for name, value in section.items():
        if name not in _FIELDS:
            raise InputError(f"{path}: unknown setting '{name}'")
        if _FIELDS[name].annotation is Path and isinstance(value, str):
            value = Path(value).expanduser()
            value = value if value.is_absolute() else Path(path).parent / value  # relative to the file, not the cwd
        values[name] = value
    return values


@contextmanager
def _layered(layers: _Layers) -> Iterator[None]:
    token = _LAYERS.set(layers)
    try:
        yield
    finally:
        _LAYERS.reset(token)


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build settings from CLI flags over environment over config file over defaults."""
    environ = os.environ if environ is None else environ
    path = config_file or (Path(environ["KB_CONFIG"]) if environ.get("KB_CONFIG") else None)
    if path is None and Path(CONFIG_FILE).is_file():
        path = Path(CONFIG_FILE)
    options = {}
    for name, value in (flags or {}).items():
        if value is not None:
            if name not in _FIELDS:
                raise InputError(f"unknown setting '{name}'")
            options[name] = _expanded(name, value)
    with _layered(_Layers(environ, path)):
        return Settings(**options)
