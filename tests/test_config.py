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
    path = write_toml(tmp_path / "elsewhere.toml", '[kb]\nregion = "ON"\n')
    write_toml(workdir / "kb.toml", '[kb]\nregion = "BC"\n')
    assert load_settings(environ={"KB_CONFIG": str(path)}).region == "ON"


def test_relative_paths_in_a_config_file_are_relative_to_that_file(workdir, tmp_path):
    (tmp_path / "site").mkdir()
    path = write_toml(tmp_path / "site" / "kb.toml", '[kb]\ncorpus = "articles"\nindex = "/srv/kb/index"\n')
    s = load_settings(environ={"KB_MODEL": "hashing-64"}, config_file=path)
    assert s.corpus == tmp_path / "site" / "articles" and s.index == Path("/srv/kb/index")
    s = load_settings(environ={"KB_CORPUS": "from-env"}, config_file=path)
    assert s.corpus == Path("from-env")  # the environment and flags stay relative to the working directory


def test_explicit_config_file_beats_kb_config(workdir, tmp_path):
    chosen = write_toml(tmp_path / "chosen.toml", '[kb]\nregion = "QC"\n')
    other = write_toml(tmp_path / "other.toml", '[kb]\nregion = "ON"\n')
    assert load_settings(environ={"KB_CONFIG": str(other)}, config_file=chosen).region == "QC"


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
