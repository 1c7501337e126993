"""Faults and hostile input: every case ends in one line naming the file, nothing indexed is lost, nothing runs.

The cases are listed in RELIABILITY.md with the test that covers each. All use the fake embedder and the
tiny corpus of conftest; `kb` is run in-process (a traceback would fail the test, not print).
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from kb.config import Settings
from kb.errors import IndexMismatchError, StorageError
from kb.index.build import build_index
from kb.index.store import BUILDS, CURRENT, current_build, load_index
from kb.ingest.loaders import load_corpus
from kb.knowledge_base import KnowledgeBase

from conftest import DOC_IDS, SLEEP_MD, THERAPIST, blank_pdf_bytes, encrypted_pdf_bytes, write_files
from fakes import HashingEmbedder

# --- Helpers ---------------------------------------------------------------------------------------------


def index_json(run_kb) -> dict:
    run = run_kb("index", "--json")
    assert run.code == 0, run.err
    return run.json()


def one_line_error(run, *words: str) -> str:
    """The run failed with exactly one `error: ...` line containing every word (no traceback, no 'aborted')."""
    assert run.code != 0 and run.out == ""
    lines = [line for line in run.err.strip().splitlines() if not line.startswith('{"progress": ')]  # --json progress
    assert len(lines) == 1 and lines[0].startswith("error: "), run.err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def indexed_ids(settings: Settings) -> set[str]:
    return set(load_index(settings.index, "hashing-64", 64).documents)


def build_bytes(settings: Settings) -> bytes:
    """Every byte of every build on disk, to look for text that must never be indexed."""
    return b"".join(p.read_bytes() for p in (settings.index / BUILDS).rglob("*") if p.is_file())


def raw_pdf(objects: dict[int, bytes]) -> bytes:
    """A PDF written by hand (for shapes no PDF library writes on purpose), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = out.tell()
        out.write(b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n")
    xref, size = out.tell(), max(objects) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for num in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets.get(num, 0))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))
    return out.getvalue()


def deflate_bomb_pdf(megabytes: int = 100) -> bytes:
    """One page whose content stream is ~100 KB compressed and `megabytes` MB inflated."""
    packer = zlib.compressobj(1)
    parts = [packer.compress(b"BT /F1 12 Tf 72 720 Td (Stress is the body's response to pressure.) Tj ET\n")]
    block = b" " * (1 << 20)
    parts += [packer.compress(block) for _ in range(megabytes)]
    data = b"".join(parts) + packer.flush()
    return raw_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            4: b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
            5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        }
    )


def cyclic_pages_pdf() -> bytes:
    """A page tree whose node lists itself (and its child lists it back)."""
    return raw_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            3: b"<< /Type /Pages /Kids [2 0 R] /Parent 2 0 R /Count 1 >>",
        }
    )


def alias_bomb(levels: int = 9) -> str:
    """YAML whose nine levels of nine aliases expand to 9**9 (387 million) items."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def front_matter(extra: str, doc_id: str = "hostile") -> bytes:
    return (
        f"---\nid: {doc_id}\ntitle: Hostile\n{extra}---\n# Hostile\n\nA paragraph of body text that is "
        "long enough to be a passage of its own.\n"
    ).encode()


@pytest.fixture
def live(kb_env, run_kb) -> Settings:
    """The test corpus indexed twice (so a previous build holds every vector too), through `kb index`."""
    index_json(run_kb)
    report = index_json(run_kb)
    assert report["embedded"] == 0 and indexed_ids(kb_env) == DOC_IDS
    return kb_env


# --- Hostile corpus files: each fails alone with one line naming it; the rest stays indexed --------------

MARKER = "kb-fault-marker-executed"


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory) -> dict[str, tuple[bytes, str]]:
    """relative path -> (bytes, words the one-line reason must contain)."""
    from conftest import STRESS_PAGES, pdf_bytes

    stress = pdf_bytes(STRESS_PAGES, title="Stress guide")
    rng = random.Random(15)
    marker = tmp_path_factory.getbasetemp() / MARKER
    return {
        "handouts/deflate-bomb.pdf": (deflate_bomb_pdf(), "decompression bomb"),
        "handouts/cyclic-pages.pdf": (cyclic_pages_pdf(), "corrupt"),
        "handouts/truncated.pdf": (stress[: len(stress) // 2], "corrupt"),
        "handouts/encrypted.pdf": (encrypted_pdf_bytes(stress), "encrypted"),
        "handouts/scanned.pdf": (blank_pdf_bytes(), "no extractable text"),
        "handouts/random.pdf": (rng.randbytes(4096), "corrupt"),
        "articles/random.md": (b"\xff" + rng.randbytes(4096), "not UTF-8"),
        "articles/utf16.md": ("# Title\n\nBody text.\n".encode("utf-16"), "not UTF-8"),
        "articles/utf16-without-bom.txt": ("Body text of a note.\n".encode("utf-16-le"), "NUL bytes"),
        "articles/nul.md": (b"# Title\n\nBody\x00text.\n", "NUL bytes"),
        "articles/alias-bomb.md": (front_matter(alias_bomb()), "YAML aliases (*name) are not allowed"),
        "articles/python-tag.md": (
            front_matter(f'run: !!python/object/apply:os.system ["touch {marker}"]\n'),
            "invalid YAML",
        ),
        "articles/huge.md": (b"# Huge\n\n" + b"All work and no play. " * 150_000, "MB limit"),
        "articles/nested.html": (b"<html><body>" + b"<div>" * 100_000 + b"<p>deep</p></body></html>", "HTML tags"),
        "articles/id-with-newline.md": (front_matter("", doc_id='"hostile\\n"'), "not a valid id"),
        "articles/typed-field.md": (front_matter("summary: {nested: [1, 2]}\n"), "field 'summary': must be text"),
    }


@pytest.mark.parametrize(
    "rel",
    [
        "handouts/deflate-bomb.pdf",
        "handouts/cyclic-pages.pdf",
        "handouts/truncated.pdf",
        "handouts/encrypted.pdf",
        "handouts/scanned.pdf",
        "handouts/random.pdf",
        "articles/random.md",
        "articles/utf16.md",
        "articles/utf16-without-bom.txt",
        "articles/nul.md",
        "articles/alias-bomb.md",
        "articles/python-tag.md",
        "articles/huge.md",
        "articles/nested.html",
        "articles/id-with-newline.md",
        "articles/typed-field.md",
    ],
)
def test_a_hostile_file_fails_alone_with_one_line_and_the_rest_stays_indexed(
    live, run_kb, hostile_files, rel, tmp_path_factory
):
    data, words = hostile_files[rel]
    write_files(live.corpus, {rel: data})
    report = index_json(run_kb)
    assert [f["path"] for f in report["failed"]] == [rel]
    reason = report["failed"][0]["reason"]
    assert words in reason and "\n" not in reason and len(reason) < 200
    assert indexed_ids(live) == DOC_IDS and report["embedded"] == 0
    assert not (tmp_path_factory.getbasetemp() / MARKER).exists()
    validate = run_kb("validate")
    assert validate.code == 1 and f"{rel}: {reason}" in validate.err.splitlines()


def test_an_alias_bomb_in_the_directory_or_topics_is_one_line(live, run_kb):
    (live.corpus / "therapists.yaml").write_text(alias_bomb(), encoding="utf-8")
    report = index_json(run_kb)
    [failure] = report["failed"]
    assert failure["path"] == "therapists.yaml" and "YAML aliases (*name) are not allowed" in failure["reason"]
    (live.corpus / "topics.yaml").write_text(alias_bomb(), encoding="utf-8")
    validate = run_kb("validate")
    assert "topics.yaml: YAML aliases (*name) are not allowed (line 2); write the value out" in validate.err
    assert indexed_ids(live) == DOC_IDS


def test_an_unknown_front_matter_field_is_refused_in_one_line_and_never_stored(live, run_kb):
    article = SLEEP_MD.replace("audience: public\n", "audience: public\nextra: {deep: [[1, 2], [3]]}\nnotes: x\n")
    (live.corpus / "articles/sleep.md").write_text(article, encoding="utf-8")
    report = index_json(run_kb)
    [failure] = report["failed"]
    assert failure["path"] == "articles/sleep.md" and "\n" not in failure["reason"]
    assert failure["reason"].startswith("field 'extra': not a front matter field (use id, title, summary, topics")
    assert "articles/sleep.md" in report["kept"]  # its previous version stays searchable, without the field
    doc = load_index(live.index).documents["sleep-and-dreams"]
    assert set(doc.metadata.to_json()) == {
        "summary",
        "topics",
        "audience",
        "last_reviewed",
        "reviewed_by",
        "references",
        "related",
    }
    validate = run_kb("validate")
    assert validate.code == 1 and f"articles/sleep.md: {failure['reason']}" in validate.err.splitlines()


def test_a_document_with_too_many_passages_fails_with_the_limit(live, run_kb, monkeypatch):
    monkeypatch.setattr("kb.index.build.MAX_CHUNKS", 2)
    report = index_json(run_kb)
    reasons = {f["path"]: f["reason"] for f in report["failed"]}
    assert "more than the limit of 2; split it into smaller files" in reasons["articles/transference.md"]
    assert "articles/transference.md" in report["kept"]  # its previous version stays searchable
    assert indexed_ids(live) == DOC_IDS


# --- Symbolic links: never followed (item 1) ----------------------------------------------------------------


def test_a_symlink_to_a_file_outside_the_corpus_is_skipped_with_a_note(live, run_kb, tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (live.corpus / "articles/passwd.md").symlink_to(secret)
    report = index_json(run_kb)
    assert (
        "articles/passwd.md: symbolic link, not followed (copy the file into the corpus instead)" in report["skipped"]
    )
    assert report["failed"] == [] and indexed_ids(live) == DOC_IDS
    assert b"root:x:0:0" not in build_bytes(live)


def test_a_symlinked_folder_is_not_walked(live, run_kb, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.md").write_text("# Private\n\nPrivate notes that must not be published.\n", encoding="utf-8")
    (live.corpus / "linked").symlink_to(outside, target_is_directory=True)
    (live.corpus / "articles/again.md").symlink_to(live.corpus / "articles/sleep.md")  # inside: skipped too
    report = index_json(run_kb)
    assert {s.split(":")[0] for s in report["skipped"]} == {"linked", "articles/again.md"}
    assert indexed_ids(live) == DOC_IDS and b"Private notes" not in build_bytes(live)
    assert run_kb("stats", "--json").json()["changed_since_build"]["added"] == []


def test_a_file_swapped_for_a_symlink_after_the_walk_is_refused(tmp_path):
    from kb.errors import InputError
    from kb.ingest.loaders import load_document

    (tmp_path / "secret.md").write_text("# Secret\n\nroot:x:0:0\n", encoding="utf-8")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus/a.md").symlink_to(tmp_path / "secret.md")
    with pytest.raises(InputError, match="symbolic link, not followed"):
        load_document(tmp_path / "corpus/a.md", tmp_path / "corpus")


# --- An id already indexed stays with its file (item 2) -----------------------------------------------------

GOOD_1 = b"---\nid: good-1\ntitle: Good one\n---\n# Good one\n\nThe original text of the first good article.\n"
DUP = b"---\nid: good-1\ntitle: Usurper\n---\n# Usurper\n\nA newcomer's text that must not take the id over.\n"


def test_a_newcomer_cannot_take_an_indexed_articles_id(live, run_kb):
    write_files(live.corpus, {"articles/good-1.md": GOOD_1})
    assert index_json(run_kb)["added"] == 1
    write_files(live.corpus, {"articles/dup-good.md": DUP})  # sorts before good-1.md
    report = index_json(run_kb)
    assert report["changed"] == 0 and report["added"] == 0
    assert report["failed"] == [
        {
            "path": "articles/dup-good.md",
            "reason": "duplicate id 'good-1': already used by articles/good-1.md; give articles/dup-good.md another id",
        }
    ]
    doc = load_index(live.index).documents["good-1"]
    assert doc.path == "articles/good-1.md" and "original text" in doc.text
    validate = run_kb("validate")
    assert "articles/dup-good.md: duplicate id 'good-1': already used by articles/good-1.md" in validate.err


def test_the_owner_keeps_its_id_while_it_is_broken(live, run_kb):
    write_files(live.corpus, {"articles/good-1.md": GOOD_1})
    index_json(run_kb)
    write_files(
        live.corpus, {"articles/good-1.md": b"---\nid: good-1\ntitle: [broken\n---\n", "articles/dup-good.md": DUP}
    )
    report = index_json(run_kb)
    assert {f["path"] for f in report["failed"]} == {"articles/good-1.md", "articles/dup-good.md"}
    assert report["kept"] == ["articles/good-1.md"]
    assert "original text" in load_index(live.index).documents["good-1"].text


def test_an_id_moves_with_a_renamed_file(live, run_kb):
    write_files(live.corpus, {"articles/good-1.md": GOOD_1})
    index_json(run_kb)
    (live.corpus / "articles/good-1.md").unlink()
    write_files(live.corpus, {"articles/dup-good.md": DUP})
    report = index_json(run_kb)
    assert report["failed"] == [] and report["changed"] == 1
    assert load_index(live.index).documents["good-1"].path == "articles/dup-good.md"


def test_two_new_files_with_one_id_the_first_in_file_order_wins(corpus):
    write_files(corpus, {"articles/b.md": GOOD_1, "articles/a.md": DUP})
    loaded = load_corpus(corpus)
    assert [d.path for d in loaded.documents if d.id == "good-1"] == ["articles/a.md"]
    assert [f.path for f in loaded.failures] == ["articles/b.md"]


# --- The therapist directory: a bad row is left out and reported (item 6) -----------------------------------

HOSTILE_ROWS = [
    ({"fee": 10_000_000}, "field 'fee' must be a whole number of dollars from 0 to 2000 (not 10000000)"),
    ({"fee": "120"}, "field 'fee' must be a whole number of dollars from 0 to 2000 (not '120')"),
    ({"name": ["<script>alert(1)</script>"]}, "field 'name' is missing or not text"),
    ({"profile_url": "javascript:alert(1)"}, "field 'profile_url' must be an http(s) link"),
    ({"id": "x\n"}, "field 'id'"),
    ({"specialties": "sleep"}, "field 'specialties' must be a non-empty list of text"),
    ({"location": "Toronto"}, "field 'location' needs a city"),
]


def write_directory(corpus: Path, rows: list) -> None:
    class Plain(yaml.SafeDumper):
        def ignore_aliases(self, data) -> bool:
            return True

    (corpus / "therapists.yaml").write_text(
        yaml.dump({"sample_data": True, "therapists": rows}, Dumper=Plain), encoding="utf-8"
    )


@pytest.mark.parametrize("change, words", HOSTILE_ROWS)
def test_a_hostile_directory_row_is_reported_and_the_others_still_load(live, run_kb, change, words):
    bad = THERAPIST | {"id": "bad-row"} | change
    write_directory(live.corpus, [THERAPIST, bad, THERAPIST | {"id": "ana", "name": "Ana"}])
    report = index_json(run_kb)
    [failure] = report["failed"]
    assert failure["path"] == "therapists.yaml" and words in failure["reason"] and "\n" not in failure["reason"]
    validate = run_kb("validate")
    line = next(line for line in validate.err.splitlines() if words in line)
    assert line.startswith("therapists.yaml: therapist ") and line.count("therapists.yaml") == 1
    kb = KnowledgeBase(live, HashingEmbedder(64))
    assert [t.id for t in kb.directory.therapists] == ["sam-lee", "ana"]
    assert [f.reason for f in kb.directory.failures] == [failure["reason"]]


def test_a_bad_row_does_not_stop_answers_or_suggestions(live, run_kb):
    write_directory(live.corpus, [THERAPIST, THERAPIST | {"id": "bad", "fee": "cheap"}])
    index_json(run_kb)
    answer = KnowledgeBase(live, HashingEmbedder(64)).ask("How can I sleep better at night?")
    assert answer.passages and [t.id for t in answer.therapists] == ["sam-lee"]


def test_an_unreadable_directory_leaves_the_app_answering(live):
    (live.corpus / "therapists.yaml").write_text("therapists: [unclosed\n", encoding="utf-8")
    kb = KnowledgeBase(live, HashingEmbedder(64))
    assert kb.directory.therapists == [] and "invalid YAML at line 2" in kb.directory.failures[0].reason
    assert kb.ask("How can I sleep better at night?").passages


# --- Damaged builds: every file emptied or half-truncated in turn (item 5) ----------------------------------

BUILD_FILES = [
    "documents.jsonl",
    "chunks.jsonl",
    "dense.faiss",
    "fixed.npz",
    "manifest.json",
    "bm25/data.csc.index.npy",
    "bm25/indices.csc.index.npy",
    "bm25/indptr.csc.index.npy",
    "bm25/params.index.json",
    "bm25/vocab.index.json",
]


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(b"" if how == "emptied" else data[: len(data) // 2])


@pytest.mark.parametrize("how", ["emptied", "half-truncated"])
@pytest.mark.parametrize("name", BUILD_FILES)
def test_a_damaged_build_file_is_named_and_kb_index_repairs_it_without_embedding(live, run_kb, name, how):
    folder = current_build(live.index)
    assert (folder / name).is_file(), "the build's files changed: update BUILD_FILES and RELIABILITY.md"
    damage(folder / name, how)
    search = run_kb("search", "transference at work", "--json")
    if name == "fixed.npz":  # only a cache: ignored
        assert search.code == 0, search.err
        assert load_index(live.index).fixed == {}
    else:
        one_line_error(search, name, str(folder.name), "run 'kb index' to rebuild it")
    report = index_json(run_kb)
    assert report["embedded"] == 0 and report["documents"] == 3 and report["failed"] == []
    assert current_build(live.index) != folder
    assert indexed_ids(live) == DOC_IDS
    again = run_kb("search", "transference at work", "--json")
    assert again.code == 0 and again.json()["results"][0]["doc_id"] == "transference-basics"


@pytest.mark.parametrize("content", ["", "\n", "b-nowhere\n", "b-2026"])
def test_a_missing_or_damaged_current_falls_back_to_the_newest_complete_build(live, run_kb, content):
    newest = current_build(live.index)
    folders = sorted(p.name for p in (live.index / BUILDS).iterdir())
    (live.index / CURRENT).write_text(content, encoding="utf-8")
    assert current_build(live.index) == newest
    assert run_kb("search", "sleep", "--json").code == 0
    report = index_json(run_kb)
    assert report["embedded"] == 0 and report["added"] == 0
    assert set(folders) & {p.name for p in (live.index / BUILDS).iterdir()}, "kb index deleted the intact builds"


def test_a_deleted_current_falls_back_too(live, run_kb):
    newest = current_build(live.index)
    (live.index / CURRENT).unlink()
    assert current_build(live.index) == newest and run_kb("search", "sleep").code == 0


def test_an_unfinished_build_is_never_the_fallback(live):
    newest = current_build(live.index)
    (live.index / BUILDS / "b-99991231T000000000000-1").mkdir()  # no manifest: a build still being written
    (live.index / CURRENT).write_text("", encoding="utf-8")
    assert current_build(live.index) == newest


def test_a_damaged_live_and_previous_build_re_embed_only_what_was_lost(live, run_kb):
    for folder in (live.index / BUILDS).iterdir():
        damage(folder / "dense.faiss", "half-truncated")
    report = index_json(run_kb)
    assert report["embedded"] == report["chunks"] > 0  # nothing intact was left to reuse
    assert indexed_ids(live) == DOC_IDS


def test_a_build_written_before_checksums_is_still_checked_for_consistency(live):
    folder = current_build(live.index)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert indexed_ids(live) == DOC_IDS  # an older build without the list still loads
    (folder / "documents.jsonl").write_text("")
    with pytest.raises(IndexMismatchError, match="inconsistent .*run 'kb index' to rebuild it"):
        load_index(live.index)
    (folder / "dense.faiss").write_bytes(b"")
    with pytest.raises(IndexMismatchError, match="dense.faiss cannot be read"):
        load_index(live.index)


def test_the_manifest_lists_every_file_with_size_and_checksum(live):
    import hashlib

    folder = current_build(live.index)
    files = json.loads((folder / "manifest.json").read_text())["files"]
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(files) == on_disk == set(BUILD_FILES) - {"manifest.json"}
    for rel, info in files.items():
        data = (folder / rel).read_bytes()
        assert info == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_a_damaged_cache_file_never_stops_search_or_index(live, run_kb):
    damage(current_build(live.index) / "fixed.npz", "half-truncated")
    kb = KnowledgeBase(live, HashingEmbedder(64))
    assert kb.search("sleep")[0].chunk.doc_id == "sleep-and-dreams"
    assert index_json(run_kb)["failed"] == []


# --- Operating-system errors: disk full, read-only index (item 4) -------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs (needs root to mount); always unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip(
            "disk-full and read-only cases mount a small tmpfs, which needs root; run the suite as root "
            "(CI does) to cover them"
        )
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the disk-full case is not covered")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system that holds folder, then free `leave` bytes."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


@pytest.mark.parametrize("leave", [0, 8192])
def test_a_full_disk_is_one_line_and_the_live_build_stays(small_disk, corpus, run_kb, leave):
    settings = Settings(corpus=corpus, index=small_disk / "index", model="hashing-64")
    env = {"KB_CORPUS": str(corpus), "KB_INDEX": str(settings.index), "KB_MODEL": "hashing-64"}
    assert run_kb("index", env=env).code == 0
    live_folder = current_build(settings.index)
    write_files(corpus, {"articles/new.md": b"# New\n\n" + b"A new article about rest and recovery. " * 400})
    filler = fill(small_disk, leave)
    run = run_kb("index", "--json", env=env)
    line = one_line_error(run, "cannot write the index: ", str(settings.index), "free some disk space")
    assert "No space left on device" in line or "no space left on device" in line
    assert current_build(settings.index) == live_folder
    assert [p.name for p in (settings.index / BUILDS).iterdir()] == [live_folder.name]  # the partial one is gone
    assert not (settings.index / "CURRENT.tmp").exists()
    assert indexed_ids(settings) == DOC_IDS
    filler.unlink()
    assert run_kb("index", env=env).code == 0 and "articles/new" in indexed_ids(settings)


def test_a_read_only_index_folder_is_one_line(small_disk, corpus, run_kb):
    env = {"KB_CORPUS": str(corpus), "KB_INDEX": str(small_disk / "index"), "KB_MODEL": "hashing-64"}
    assert run_kb("index", env=env).code == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    run = run_kb("index", "--json", env=env)
    one_line_error(run, str(small_disk / "index"), "Read-only file system", "make the index folder writable")
    assert run_kb("search", "sleep", env=env).code == 0  # still served


def test_an_unwritable_index_folder_is_one_line_without_root(corpus, tmp_path, monkeypatch):
    settings = Settings(corpus=corpus, index=tmp_path / "index", model="hashing-64")
    build_index(settings, HashingEmbedder(64))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(settings.index / BUILDS / "b-new"))

    monkeypatch.setattr("kb.index.build.new_build_folder", refuse)
    with pytest.raises(StorageError, match=r"b-new: Permission denied; make the index folder writable"):
        build_index(settings, HashingEmbedder(64))
    assert indexed_ids(settings) == DOC_IDS


def test_a_short_write_without_a_file_name_names_the_file(settings, monkeypatch):
    build_index(settings, HashingEmbedder(64))

    def short_write(*args, **kwargs):
        raise OSError("194688 requested and 92128 written")

    monkeypatch.setattr(np, "save", short_write)
    with pytest.raises(StorageError, match=r"bm25: 194688 requested and 92128 written") as error:
        build_index(settings, HashingEmbedder(64), full=True)
    assert "\n" not in str(error.value)
    assert [p.name for p in (settings.index / BUILDS).iterdir()] == [current_build(settings.index).name]


# --- Smaller ones (item 7) ------------------------------------------------------------------------------------


def test_a_link_whose_url_has_parentheses_keeps_its_text(tmp_path):
    from kb.ingest.loaders import clean_markdown

    text = clean_markdown(
        "See [attachment](https://en.wikipedia.org/wiki/Attachment_(psychology)) and "
        '[more](https://example.org/a_(b)_c "title").'
    )
    assert text == "See attachment and more."


def test_kb_bench_ask_without_an_index_says_to_build_one(kb_env, run_kb):
    one_line_error(run_kb("bench", "ask"), "no index in", "run 'kb index' first")


# --- Concurrency (item 8): readers never see a half-swapped build ---------------------------------------------


def test_twenty_sessions_searching_during_rebuilds_all_get_whole_builds(live):
    """20 threads load the live index and search while three rebuilds swap it (the app's sessions do the same
    through one KnowledgeBase per build); none errors, and every index read is one build's files, whole."""
    import threading

    errors: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def session() -> None:
        while not stop.is_set():
            try:
                index = load_index(live.index, "hashing-64", 64)
                manifest = index.manifest
                assert len(index.documents) == manifest.document_count and len(index.chunks) == manifest.chunk_count
                assert len(index.vectors) == index.dense.ntotal == len(index.chunks)
                kb = KnowledgeBase(live, HashingEmbedder(64))
                kb.__dict__["index"] = index  # this session's build, as the app's per-build cache holds it
                assert kb.search("sleep and dreams", k=3)
                seen.add(index.folder.name)
            except Exception as exc:  # noqa: BLE001 - any error at all is the failure
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=session) for _ in range(20)]
    for thread in threads:
        thread.start()
    try:
        for n in range(3):
            write_files(live.corpus, {f"articles/new-{n}.md": f"# New {n}\n\nSleep article number {n}.\n".encode()})
            build_index(live, HashingEmbedder(64))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert len(seen) >= 2  # the sessions did read across swaps
