"""The therapist directory: the shipped sample data, validation errors that name therapist and field,
`kb therapists`."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from kb.config import Settings
from kb.directory.therapists import FORMATS, POPULATIONS, check_directory, load_directory
from kb.errors import InputError
from kb.ingest.topics import load_topics

from conftest import THERAPIST as ROW

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "corpus"


@pytest.fixture(scope="module")
def topics():
    return load_topics(SHIPPED / "topics.yaml")


@pytest.fixture(scope="module")
def shipped(topics):
    return load_directory(SHIPPED / "therapists.yaml", {t.id for t in topics})


@pytest.fixture(scope="module")
def raw_rows():
    """The shipped YAML read plainly, to check the loader against."""
    return yaml.safe_load((SHIPPED / "therapists.yaml").read_text(encoding="utf-8"))["therapists"]


# The shipped directory


def test_the_shipped_directory_is_labelled_sample_data_with_example_links(shipped):
    assert len(shipped.therapists) >= 24
    assert shipped.sample_data is True
    assert shipped.directory_url.startswith("https://example.org/")
    for t in shipped.therapists:
        assert t.profile_url.startswith("https://example.org/"), t.id


def test_the_header_comment_says_the_therapists_are_fictional():
    head = (SHIPPED / "therapists.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert "SAMPLE DATA" in head and "fictional" in head


def test_every_therapist_works_psychodynamically(shipped):
    assert all("psychodynamic" in t.modalities for t in shipped.therapists)


def test_every_specialty_is_in_the_topic_vocabulary(shipped, topics):
    vocabulary = {t.id for t in topics}
    for t in shipped.therapists:
        assert set(t.specialties) <= vocabulary, t.id


def test_the_directory_speaks_at_least_six_languages(shipped):
    assert len({lang for t in shipped.therapists for lang in t.languages}) >= 6


def test_every_concern_is_covered_by_at_least_two_therapists(shipped, topics):
    concerns = [t.id for t in topics if t.kind == "concern"]
    assert concerns
    thin = {c: n for c in concerns if (n := sum(c in t.specialties for t in shipped.therapists)) < 2}
    assert thin == {}


def test_bios_are_80_to_200_words(shipped):
    lengths = {t.id: len(t.bio.split()) for t in shipped.therapists}
    assert {tid: n for tid, n in lengths.items() if not 80 <= n <= 200} == {}


def test_ids_are_unique_and_every_field_is_filled(shipped):
    assert len({t.id for t in shipped.therapists}) == len(shipped.therapists)
    for t in shipped.therapists:
        assert t.name and t.credentials and t.city and t.pronouns, t.id
        assert set(t.formats) <= FORMATS and set(t.populations) <= POPULATIONS
        assert 0 <= t.fee <= 2000


def test_the_loader_keeps_what_the_file_says(shipped, raw_rows):
    assert [t.id for t in shipped.therapists] == [r["id"] for r in raw_rows]
    first, row = shipped.therapists[0], raw_rows[0]
    assert first.languages == tuple(row["languages"])
    assert first.fee == row["fee"] and first.accepting_new_clients == row["accepting_new_clients"]
    assert first.city == row["location"]["city"]
    assert first.bio == " ".join(row["bio"].split())


def test_the_shipped_directory_passes_its_own_checks(topics):
    settings = Settings(corpus=SHIPPED)
    assert check_directory(settings, {t.id for t in topics}) == []


# Bad directories: the error names the file, the therapist and the field

GOOD = {
    **ROW,
    "bio": "Sam works with adults who feel stuck in the same patterns.",
}
VOCABULARY = {"sleep", "anger", "transference-and-relationship"}


class _PlainDumper(yaml.SafeDumper):
    """Writes shared values out in full: the loader refuses YAML aliases (an alias bomb's tool)."""

    def ignore_aliases(self, data) -> bool:
        return True


def write_directory(folder: Path, rows: list, **top) -> Path:
    path = folder / "therapists.yaml"
    path.write_text(
        yaml.dump(
            {"sample_data": True, "directory_url": "https://example.org/t", **top, "therapists": rows},
            Dumper=_PlainDumper,
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    return path


def changed(**fields) -> dict:
    row = copy.deepcopy(GOOD)
    for name, value in fields.items():
        if value is ...:
            del row[name]
        else:
            row[name] = value
    return row


def test_a_good_entry_loads(tmp_path):
    directory = load_directory(write_directory(tmp_path, [GOOD]), VOCABULARY)
    assert [t.id for t in directory.therapists] == ["sam-lee"]
    assert directory.directory_url == "https://example.org/t" and directory.sample_data


@pytest.mark.parametrize(
    "row, field, words",
    [
        (changed(name=...), "name", "missing"),
        (changed(name="   "), "name", "missing"),
        (changed(bio=42), "bio", "not text"),
        (changed(fee="cheap"), "fee", "whole number"),
        (changed(fee=-20), "fee", "whole number"),
        (changed(fee=True), "fee", "whole number"),
        (changed(fee=99.5), "fee", "whole number"),
        (changed(specialties=["sleep", "astrology"]), "specialties", "'astrology'"),
        (changed(specialties=[]), "specialties", "non-empty list"),
        (changed(formats=["telepathy"]), "formats", "'telepathy'"),
        (changed(formats="online"), "formats", "list"),
        (changed(populations=["robots"]), "populations", "'robots'"),
        (changed(modalities=["CBT"]), "modalities", "psychodynamic"),
        (changed(profile_url="ftp://example.org/sam"), "profile_url", "http"),
        (changed(profile_url="example.org/sam"), "profile_url", "http"),
        (changed(accepting_new_clients="yes"), "accepting_new_clients", "true or false"),
        (changed(sliding_scale=None), "sliding_scale", "true or false"),
        (changed(location={"neighbourhood": "Annex"}), "location", "city"),
    ],
)
def test_a_bad_row_is_left_out_and_reported_naming_therapist_and_field(tmp_path, row, field, words):
    directory = load_directory(
        write_directory(tmp_path, [GOOD | {"id": "first"}, row, GOOD | {"id": "last"}]), VOCABULARY
    )
    assert [t.id for t in directory.therapists] == ["first", "last"]
    [failure] = directory.failures
    assert failure.path == "therapists.yaml"
    assert failure.reason.startswith("therapist 'sam-lee': ")
    assert f"field '{field}'" in failure.reason and words in failure.reason
    assert "\n" not in failure.reason and "therapists.yaml" not in failure.reason


def test_a_bad_fee_says_the_allowed_range(tmp_path):
    directory = load_directory(write_directory(tmp_path, [changed(fee=5000)]), VOCABULARY)
    assert directory.therapists == []
    assert directory.failures[0].reason.startswith(
        "therapist 'sam-lee': field 'fee' must be a whole number of dollars from 0 to 2000 (not 5000)"
    )


def test_an_unknown_field_is_refused_in_one_line_naming_it(tmp_path):
    directory = load_directory(write_directory(tmp_path, [changed(fees=120), changed(id="ana")]), VOCABULARY)
    assert [t.id for t in directory.therapists] == ["ana"]
    [failure] = directory.failures
    assert failure.reason.startswith("therapist 'sam-lee': field 'fees' is not a directory field (the fields are id,")
    assert "\n" not in failure.reason


@pytest.mark.parametrize(
    "text, words",
    [
        (
            "topics:\n  - {id: a, label: A, kind: worry, description: d}\n",
            "topic #1 \\(a\\): field 'kind' must be one of",
        ),
        ("topics:\n  - {id: a, label: A, description: [d]}\n", "topic #1 \\(a\\): field 'description' is missing"),
        ("topics:\n  - {id: a, label: A, description: d, colour: red}\n", "field 'colour' is not a topic field"),
    ],
)
def test_a_bad_topic_is_one_line_naming_the_entry_and_field(tmp_path, text, words):
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=words) as caught:
        load_topics(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_a_duplicate_id_is_named_and_the_first_is_kept(tmp_path):
    directory = load_directory(write_directory(tmp_path, [GOOD, changed(name="Another Sam")]), VOCABULARY)
    assert [t.name for t in directory.therapists] == ["Sam Lee"]
    assert "therapist 'sam-lee': field 'id' is used twice" in directory.failures[0].reason


def test_an_entry_without_an_id_is_named_by_its_position(tmp_path):
    directory = load_directory(write_directory(tmp_path, [GOOD, changed(id=...)]), VOCABULARY)
    assert "therapist '#2': field 'id'" in directory.failures[0].reason


def test_an_id_with_a_trailing_newline_is_refused(tmp_path):
    directory = load_directory(write_directory(tmp_path, [changed(id="sam-lee\n")]), VOCABULARY)
    assert directory.therapists == [] and "field 'id'" in directory.failures[0].reason


def test_specialties_are_not_checked_without_a_vocabulary(tmp_path):
    directory = load_directory(write_directory(tmp_path, [changed(specialties=["astrology"])]))
    assert directory.therapists[0].specialties == ("astrology",)


def test_a_row_that_is_not_a_mapping_is_reported_by_position(tmp_path):
    path = tmp_path / "therapists.yaml"
    path.write_text("therapists:\n  - just text\n", encoding="utf-8")
    assert "therapist #1 must be a mapping" in load_directory(path).failures[0].reason


@pytest.mark.parametrize(
    "text, words",
    [
        ("therapists: [unclosed\n", "cannot read"),
        ("- just a list\n", "expected a 'therapists:' list"),
    ],
)
def test_a_broken_file_is_a_clear_error(tmp_path, text, words):
    path = tmp_path / "therapists.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=words):
        load_directory(path)


def test_a_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(InputError, match="therapist directory not found"):
        load_directory(tmp_path / "nowhere.yaml")


def test_a_directory_url_must_be_a_link(tmp_path):
    directory = load_directory(write_directory(tmp_path, [GOOD], directory_url="example.org"))
    assert directory.directory_url == "" and [t.id for t in directory.therapists] == ["sam-lee"]
    assert "field 'directory_url' must be an http(s) link" in directory.failures[0].reason


def test_check_directory_wants_sample_data_and_two_therapists_per_concern(corpus):
    write_directory(corpus, [GOOD, changed(id="ana", name="Ana", specialties=["sleep", "anger"])], sample_data=False)
    problems = [p.reason for p in check_directory(Settings(corpus=corpus), VOCABULARY)]
    assert any("sample_data" in p for p in problems)
    # the test vocabulary's concerns: transference-and-relationship (0), sleep (2), anger (1)
    assert any("'transference-and-relationship' has 0 therapists" in p for p in problems)
    assert any("'anger' has 1 therapists" in p for p in problems)
    assert not any("'sleep'" in p for p in problems)


# kb therapists


def test_kb_therapists_json_filters_by_topic_and_language(run_kb, raw_rows):
    run = run_kb("therapists", "--corpus", SHIPPED, "--topic", "trauma", "--language", "French", "--json")
    assert run.code == 0, run.err
    data = run.json()
    assert data["sample_data"] is True and data["directory_url"].startswith("https://example.org/")
    expected = sorted(r["name"] for r in raw_rows if "trauma" in r["specialties"] and "French" in r["languages"])
    assert expected, "the shipped directory should have a French-speaking trauma therapist"
    assert [t["name"] for t in data["therapists"]] == expected
    for t in data["therapists"]:
        assert {
            "id",
            "name",
            "credentials",
            "specialties",
            "languages",
            "formats",
            "fee",
            "profile_url",
            "accepting_new_clients",
            "sliding_scale",
        } <= set(t)


def test_kb_therapists_language_is_case_insensitive(run_kb):
    upper = run_kb("therapists", "--corpus", SHIPPED, "--language", "FRENCH", "--json").json()
    lower = run_kb("therapists", "--corpus", SHIPPED, "--language", "french", "--json").json()
    assert upper == lower and upper["therapists"]


def test_kb_therapists_human_listing_says_sample_data(run_kb, shipped):
    run = run_kb("therapists", "--corpus", SHIPPED, "--topic", "grief-and-loss", "--accepting")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "Sample data: these therapists are fictional."
    found = [t for t in shipped.therapists if "grief-and-loss" in t.specialties and t.accepting_new_clients]
    assert lines[-1] == f"{len(found)} of {len(shipped.therapists)} therapists"
    for t in found:
        assert any(line.startswith(f"{t.name}, {t.credentials}") and "accepting new clients" in line for line in lines)
        assert f"  {t.profile_url}" in lines


def test_kb_therapists_with_a_fee_limit_and_format(run_kb):
    data = run_kb("therapists", "--corpus", SHIPPED, "--max-fee", "150", "--format", "in-person", "--json").json()
    assert data["therapists"]
    assert all(t["fee"] <= 150 and "in-person" in t["formats"] for t in data["therapists"])


def test_kb_therapists_unknown_topic_is_a_clear_error(run_kb):
    run = run_kb("therapists", "--corpus", SHIPPED, "--topic", "astrology")
    assert run.code == 2 and run.out == ""
    assert "'astrology' is not a topic id" in run.err and "--topic" in run.err and "topics.yaml" in run.err


def test_kb_therapists_lists_the_good_rows_and_reports_a_bad_one_in_one_line(run_kb, corpus):
    write_directory(corpus, [changed(fee="cheap"), changed(id="ana", name="Ana")])
    run = run_kb("therapists", "--corpus", corpus)
    assert run.code == 0 and "Ana, RP" in run.out and "Sam Lee" not in run.out
    assert run.err.strip() == (
        "therapists.yaml: therapist 'sam-lee': field 'fee' must be a whole number of dollars "
        "from 0 to 2000 (not 'cheap'); this therapist is left out until it is fixed"
    )


def test_kb_therapists_reports_an_unreadable_directory_in_one_line(run_kb, corpus):
    (corpus / "therapists.yaml").write_text("therapists: [unclosed\n", encoding="utf-8")
    run = run_kb("therapists", "--corpus", corpus)
    assert run.code != 0 and run.out == "" and len(run.err.strip().splitlines()) == 1
    assert (
        run.err.startswith("error: ")
        and "therapists.yaml: cannot read the therapist directory: invalid YAML at line 2" in run.err
    )
