"""Settings: CLI flags > environment > config file > defaults, with clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.config import DEFAULT_MODEL, Settings, load_settings
from kb.errors import InputError


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory (no kb.toml unless the test writes one)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_source(workdir):
    s = load_settings(environ={})
    assert s == Settings()
    assert (s.corpus, s.index, s.model) == (Path("corpus"), Path("index"), DEFAULT_MODEL)
    assert s.max_tokens == 256 and s.overlap_sentences == 1 and s.allow_hub is False
    assert s.fusion == "convex" and s.max_per_doc == 2 and s.reranker is None


def test_kb_toml_in_the_working_directory_is_read(workdir):
    write_toml(
        workdir / "kb.toml",
        '[kb]\ncorpus = "my-corpus"\nmax_tokens = 128\nallow_hub = true\ndense_weight = 0.5\nreranker = "cross-enc"\n',
    )
    s = load_settings(environ={})
    assert s.corpus == Path("my-corpus") and isinstance(s.corpus, Path)
    assert s.max_tokens == 128 and s.allow_hub is True and s.dense_weight == 0.5
    assert s.reranker == "cross-enc"
    assert s.index == Path("index")  # untouched fields keep their default


def test_a_file_without_the_kb_table_is_read_as_settings(workdir):
    path = write_toml(workdir / "other.toml", 'model = "hashing-64"\n')
    assert load_settings(environ={}, config_file=path).model == "hashing-64"


def test_environment_overrides_config_file(workdir):
    write_toml(workdir / "kb.toml", '[kb]\ncorpus = "from-file"\nindex = "idx-file"\nmodel = "file-model"\n')
    s = load_settings(environ={"KB_CORPUS": "from-env", "KB_MODEL": "env-model"})
    assert (s.corpus, s.index, s.model) == (Path("from-env"), Path("idx-file"), "env-model")


def test_flags_override_environment_and_file(workdir):
    write_toml(workdir / "kb.toml", '[kb]\ncorpus = "from-file"\nmodel = "file-model"\nmax_tokens = 100\n')
    env = {"KB_CORPUS": "from-env", "KB_INDEX": "idx-env", "KB_MODEL": "env-model"}
    s = load_settings({"corpus": Path("from-flag"), "model": None, "index": None}, environ=env)
    assert s.corpus == Path("from-flag")
    assert s.model == "env-model" and s.index == Path("idx-env")  # a flag left unset does not override
    assert s.max_tokens == 100


def test_kb_config_variable_points_at_the_file(workdir, tmp_path):
    path = write_toml(tmp_path / "elsewhere.toml", '[kb]\nregion = "US"\n')
    write_toml(workdir / "kb.toml", '[kb]\nregion = "other"\n')
    assert load_settings(environ={"KB_CONFIG": str(path)}).region == "US"


def test_relative_paths_in_a_config_file_are_relative_to_that_file(workdir, tmp_path):
    (tmp_path / "site").mkdir()
    path = write_toml(tmp_path / "site" / "kb.toml", '[kb]\ncorpus = "articles"\nindex = "/srv/kb/index"\n')
    s = load_settings(environ={"KB_MODEL": "hashing-64"}, config_file=path)
    assert s.corpus == tmp_path / "site" / "articles" and s.index == Path("/srv/kb/index")
    s = load_settings(environ={"KB_CORPUS": "from-env"}, config_file=path)
    assert s.corpus == Path("from-env")  # the environment and flags stay relative to the working directory


def test_explicit_config_file_beats_kb_config(workdir, tmp_path):
    chosen = write_toml(tmp_path / "chosen.toml", '[kb]\nregion = "US"\n')
    other = write_toml(tmp_path / "other.toml", '[kb]\nregion = "other"\n')
    assert load_settings(environ={"KB_CONFIG": str(other)}, config_file=chosen).region == "US"


def test_process_environment_is_the_default_source(workdir, monkeypatch):
    monkeypatch.setenv("KB_INDEX", "/tmp/somewhere")
    monkeypatch.setenv("KB_ALLOW_HUB", "yes")
    s = load_settings()
    assert s.index == Path("/tmp/somewhere") and s.allow_hub is True


def test_empty_environment_values_are_ignored(workdir):
    assert load_settings(environ={"KB_MODEL": "", "KB_CORPUS": ""}) == Settings()


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("On", True), ("0", False), ("no", False)])
def test_boolean_environment_values(workdir, value, expected):
    assert load_settings(environ={"KB_ALLOW_HUB": value}).allow_hub is expected


def test_bad_environment_value_names_the_variable(workdir):
    with pytest.raises(InputError, match="environment KB_ALLOW_HUB: 'allow_hub' has an invalid value 'maybe'"):
        load_settings(environ={"KB_ALLOW_HUB": "maybe"})


def test_bad_config_value_names_the_file_and_setting(workdir):
    write_toml(workdir / "kb.toml", '[kb]\nmax_tokens = "lots"\n')
    with pytest.raises(InputError, match=r"kb.toml: 'max_tokens' has an invalid value 'lots'"):
        load_settings(environ={})


def test_unknown_setting_is_refused(workdir):
    write_toml(workdir / "kb.toml", "[kb]\nmax_tokenz = 12\n")
    with pytest.raises(InputError, match="unknown setting 'max_tokenz'"):
        load_settings(environ={})


def test_broken_toml_is_an_input_error(workdir):
    write_toml(workdir / "kb.toml", "[kb\ncorpus = \n")
    with pytest.raises(InputError, match="kb.toml: cannot read config file"):
        load_settings(environ={})


def test_missing_config_file_given_explicitly(workdir):
    with pytest.raises(InputError, match="cannot read config file"):
        load_settings(environ={}, config_file=workdir / "missing.toml")


def test_replace_ignores_unset_values():
    s = Settings().replace(model="hashing-64", corpus=None)
    assert s.model == "hashing-64" and s.corpus == Path("corpus")


def test_data_file_paths_live_in_the_corpus():
    s = Settings(corpus=Path("/data/c"))
    assert s.topics_path == Path("/data/c/topics.yaml")
    assert s.therapists_path == Path("/data/c/therapists.yaml")


# Bad values are refused with one line naming the source, the setting and what it allows


@pytest.mark.parametrize(
    "line, words",
    [
        ('fusion = "bogus"', "'fusion' has an invalid value 'bogus': must be one of convex, rrf"),
        ("dense_weight = 5", "'dense_weight' has an invalid value 5: must be a number from 0 to 1"),
        ("max_tokens = -3", "'max_tokens' has an invalid value -3: must be a whole number from 16 to 8192"),
        ("candidates = 0", "'candidates' has an invalid value 0: must be a whole number of at least 1"),
        ('region = "ON"', "'region' has an invalid value 'ON': must be one of CA, US, other"),
        ('allow_hub = "maybe"', "'allow_hub' has an invalid value 'maybe': must be true or false"),
        ('quick_exit_url = "javascript:alert(1)"', "'quick_exit_url' has an invalid value 'javascript:alert(1)'"),
        ("model = 5", "'model' has an invalid value 5: must be text"),
    ],
)
def test_a_bad_value_in_the_config_file_is_one_line_naming_file_setting_and_what_is_allowed(workdir, line, words):
    write_toml(workdir / "kb.toml", f"[kb]\n{line}\n")
    with pytest.raises(InputError) as caught:
        load_settings(environ={})
    message = str(caught.value)
    assert message.startswith(f"kb.toml: {words}") and "must be" in message and "\n" not in message


@pytest.mark.parametrize(
    "var, value, words",
    [
        ("KB_REGION", "Ontario", "'region' has an invalid value 'Ontario': must be one of CA, US, other"),
        ("KB_API_RATE_LIMIT", "-1", "'api_rate_limit' has an invalid value '-1': must be a whole number of at least 0"),
        ("KB_API_RATE_LIMIT", "lots", "'api_rate_limit' has an invalid value 'lots': must be a whole number"),
    ],
)
def test_a_bad_environment_value_is_one_line_naming_the_variable(workdir, var, value, words):
    with pytest.raises(InputError) as caught:
        load_settings(environ={var: value})
    assert str(caught.value).startswith(f"environment {var}: {words}") and "\n" not in str(caught.value)


def test_a_bad_option_is_one_line_naming_the_option(workdir):
    with pytest.raises(InputError) as caught:
        load_settings({"candidates": 0}, environ={})
    assert str(caught.value) == (
        "option 'candidates': 'candidates' has an invalid value 0: must be a whole number of at least 1"
    )


def test_the_environment_is_blamed_only_for_what_it_set(workdir):
    write_toml(workdir / "kb.toml", '[kb]\nfusion = "bogus"\n')
    with pytest.raises(InputError, match=r"^kb.toml: 'fusion'"):
        load_settings(environ={"KB_MODEL": "hashing-64"})


def test_a_region_code_is_read_in_any_case(workdir):
    assert load_settings(environ={"KB_REGION": " us "}).region == "US"
    assert load_settings(environ={"KB_REGION": "other"}).region == "other"


def test_the_regions_are_the_ones_with_crisis_resources():
    from kb.config import REGIONS
    from kb.safety.data import crisis_data

    assert set(REGIONS) == set(crisis_data()["resources"])


@pytest.mark.parametrize(
    "change, words",
    [
        ({"fusion": "bogus"}, "setting 'fusion' has an invalid value 'bogus': must be one of convex, rrf"),
        ({"dense_weight": 5}, "setting 'dense_weight' has an invalid value 5: must be a number from 0 to 1"),
        ({"max_tokens": -3}, "setting 'max_tokens' has an invalid value -3: must be a whole number from 16 to 8192"),
        ({"booking_url": "book.example"}, "setting 'booking_url' has an invalid value 'book.example'"),
        ({"no_such_thing": 1}, "unknown setting 'no_such_thing'"),
    ],
)
def test_replace_validates_the_change(change, words):
    with pytest.raises(InputError, match=f"^{words}"):
        Settings().replace(**change)


def test_settings_are_frozen_and_hashable():
    s = Settings()
    with pytest.raises(ValueError, match="frozen"):
        s.model = "other"  # type: ignore[misc]
    assert hash(s) == hash(Settings()) and s.replace(model="hashing-64") != s


def test_a_home_relative_path_is_expanded(workdir, monkeypatch):
    monkeypatch.setenv("HOME", str(workdir))
    assert load_settings(environ={"KB_INDEX": "~/idx"}).index == workdir / "idx"


@pytest.mark.parametrize(
    "values, words",
    [
        ({"fusion": "bogus"}, "setting 'fusion' has an invalid value 'bogus': must be one of convex, rrf"),
        ({"dense_weight": 5}, "setting 'dense_weight' has an invalid value 5: must be a number from 0 to 1"),
        ({"max_tokens": -3}, "setting 'max_tokens' has an invalid value -3: must be a whole number from 16 to 8192"),
        ({"region": "ON"}, "setting 'region' has an invalid value 'ON': must be one of CA, US, other"),
        ({"no_such_thing": 1}, "unknown setting 'no_such_thing'"),
    ],
)
def test_constructing_settings_in_code_refuses_a_bad_value_with_the_same_one_line_input_error(values, words):
    from pydantic import ValidationError

    with pytest.raises(InputError) as caught:
        Settings(**values)
    assert str(caught.value) == words or str(caught.value).startswith(words + ":")
    assert "\n" not in str(caught.value) and not isinstance(caught.value, ValidationError)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # pydantic's error is not shown


def test_settings_constructed_in_code_read_no_environment_and_no_config_file(workdir, monkeypatch):
    write_toml(workdir / "kb.toml", '[kb]\nmodel = "file-model"\n')
    monkeypatch.setenv("KB_CORPUS", "from-env")
    monkeypatch.setenv("KB_REGION", "Ontario")  # a bad value a layered build would refuse
    assert Settings().model == DEFAULT_MODEL and Settings(model="x").corpus == Path("corpus")
    assert Settings().region == "CA"
    with pytest.raises(InputError, match="^environment KB_REGION: 'region'"):
        load_settings()  # the same process environment, layered: read, and refused


def test_the_layering_is_pydantic_settings_sources_in_priority_order(workdir):
    from pydantic_settings import BaseSettings

    from kb.config import ConfigFileSource, EnvironmentSource

    assert issubclass(Settings, BaseSettings)
    write_toml(workdir / "kb.toml", '[kb]\nmodel = "file-model"\nindex = "idx-file"\nmax_tokens = 100\n')
    s = load_settings({"max_tokens": 64}, environ={"KB_MODEL": "env-model"})
    assert (s.max_tokens, s.model, s.index) == (64, "env-model", Path("idx-file"))
    assert {EnvironmentSource, ConfigFileSource} <= {type(c) for c in _sources_of_a_layered_build()}


def _sources_of_a_layered_build():
    """The sources pydantic-settings builds from while load_settings runs (captured by a spy)."""
    seen = []
    original = Settings.settings_customise_sources.__func__

    def spy(cls, *args, **kwargs):
        found = original(cls, *args, **kwargs)
        seen.extend(found)
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Settings, "settings_customise_sources", classmethod(spy))
        load_settings(environ={})
    return seen


def test_a_kb_key_that_is_not_a_table_is_one_line(workdir):
    write_toml(workdir / "kb.toml", "kb = 5\n")
    with pytest.raises(InputError, match=r"^kb.toml: 'kb' must be a table of settings"):
        load_settings(environ={})
